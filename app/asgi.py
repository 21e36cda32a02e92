"""The ASGI application: GraphQL (with GraphiQL) at /graphql, health at /healthz, the reader
app at / and the staff dashboard at /staff (app.web)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.to_thread
import orjson
import sqlalchemy as sa
from cross_web import HTTPException
from graphql import GraphQLError
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.types import ExecutionResult

from app.media_types import (
    GRAPHQL_RESPONSE_JSON,
    JSON,
    graphql_response_status,
    is_request_error,
    response_media_type,
    unavailable_retry_after,
)
from app.metrics import (
    Exposition,
    ProcessSampler,
    authorized,
    observe_list,
    observe_operation,
    operation_label,
    outcome_of,
)
from app.model_store import build_model_store
from app.settings import Settings
from app.web import graphiql_response
from app.web import routes as web_routes
from db.engine import make_engine
from db.errors import database_unavailable, one_line
from db.popularity import PopularityCache
from db.session import UnitOfWork
from inference.live import LiveModel
from recommend import RecommendationService
from recommend.lists import ListRecorder
from schema import build_schema
from schema.auth import LoginThrottle, Passwords, Tokens
from schema.build import Limits
from schema.context import Context, Services
from schema.extensions import MASKED_MESSAGE

log = logging.getLogger("bookrec.app")

HTTP_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


# A mutation rolled back by a deadlock or a serialisation failure is run again, whole, up
# to this many attempts in all (BOOKREC_MUTATION_ATTEMPTS), after a short random pause
# (up to RETRY_PAUSE_SECONDS, doubling each time) that lets the other transaction finish.
RETRY_PAUSE_SECONDS = 0.01
METRICS_SAMPLE_SECONDS = 1.0  # buffer depth, drops and the served version, into /metrics


class BookrecGraphQL(GraphQL[Context, None]):
    def __init__(
        self,
        engine: Engine,
        services: Services,
        mutation_attempts: int = 5,
        metrics: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.engine = engine
        self.services = services
        self.mutation_attempts = mutation_attempts
        self.metrics = metrics  # count and time every operation (app.metrics)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Transport-level refusals (bad JSON, wrong method) as GraphQL-shaped JSON too, in
        the media type the client asked for."""
        if scope["type"] != "http":  # no subscriptions: refuse a WebSocket handshake
            await send({"type": "websocket.close", "code": 1008})
            return
        request = Request(scope=scope, receive=receive)
        media_type = response_media_type(request.headers.get("accept"))
        request.state.media_type = media_type
        try:
            response = await self.run(request)
        except HTTPException as exc:
            code = HTTP_CODES.get(exc.status_code, "BAD_REQUEST")
            if self.metrics:
                observe_operation("none", code, 0.0)
            response = JSONResponse(
                {"errors": [{"message": exc.reason, "extensions": {"code": code}}]},
                status_code=exc.status_code,
            )
        if response.headers.get("content-type", "").startswith(JSON):  # not GraphiQL's page
            response.headers["vary"] = "Accept"
            if media_type == GRAPHQL_RESPONSE_JSON:
                response.headers["content-type"] = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
                response.status_code = getattr(request.state, "status", response.status_code)
            retry_after = getattr(request.state, "retry_after", None)
            if retry_after is not None:  # the database is unavailable: 503 for either type
                response.status_code = 503
                response.headers["retry-after"] = str(retry_after)
        await response(scope, receive, send)

    async def parse_http_body(self, request: Any) -> Any:
        """Only JSON bodies (and GET's query string) are GraphQL requests; any other
        content type is 415 (strawberry answers 400). Compared as strawberry then reads it:
        lower case, parameters (charset) aside."""
        media, _ = parse_content_type(request.content_type or "")
        if request.method != "GET" and media.strip() != JSON:
            raise HTTPException(415, "Send the request as application/json.")
        return await super().parse_http_body(request)

    async def execute_single(
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Any,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """A mutation the database rolled back to break a deadlock or a serialisation
        conflict (PostgreSQL) is run again from the start, in a fresh context: every
        statement of it was rolled back and nothing of its response exists yet (results are
        sent whole, never streamed). Queries are never run again."""
        attempt = 1
        started = time.perf_counter()
        while True:
            context.retry_transient = attempt < self.mutation_attempts
            result = await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
            state = context.transient_failure
            if state is None or attempt >= self.mutation_attempts:
                if self.metrics:
                    observe_operation(
                        operation_label(
                            request_data.query, request_data.operation_name, result.errors
                        ),
                        outcome_of(result.errors),
                        time.perf_counter() - started,
                    )
                return result
            pause = random.uniform(0, RETRY_PAUSE_SECONDS * 2 ** (attempt - 1))
            log.warning(
                "mutation %s rolled back by the database (SQLSTATE %s); "
                "running it again in %.0f ms (attempt %d of %d)",
                request_data.operation_name or "(anonymous)",
                state,
                pause * 1000,
                attempt + 1,
                self.mutation_attempts,
            )
            await asyncio.sleep(pause)
            context = await self.get_context(request, sub_response)
            attempt += 1

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        """GraphiQL from bookrec's own files (app/static), never from a CDN (app.web)."""
        return graphiql_response()

    def encode_json(self, data: object) -> bytes:
        try:
            return orjson.dumps(data)
        except (orjson.JSONEncodeError, TypeError):  # e.g. an integer over 64 bits
            return json.dumps(data, separators=(",", ":")).encode()

    def decode_json(self, data: str | bytes) -> object:
        """Strawberry reads a body as UTF-8 JSON holding an object (or a batch list) and
        crashes (a 500) on anything else: refuse those as the client's mistake instead."""
        try:
            value = json.loads(data)
        except UnicodeDecodeError:
            raise HTTPException(400, "The request body is not valid UTF-8.") from None
        if not isinstance(value, dict | list):
            raise HTTPException(400, "Expected a JSON object (the GraphQL request).")
        return value

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        """The error policy's last line. ErrorPolicy codes every error of an operation that
        completes; one that crashes before execution (a validation rule raising on odd input)
        bypasses it, and strawberry would send the raw exception text, with no code."""
        if result.errors:
            result.errors = [_mask_uncoded(error) for error in result.errors]
        response = await super().process_result(request, result)
        media_type = getattr(request.state, "media_type", JSON)
        request.state.retry_after = unavailable_retry_after(response)
        if media_type == GRAPHQL_RESPONSE_JSON and is_request_error(response):
            request.state.status = graphql_response_status(response)
            del response["data"]  # the spec: no data entry when execution never began
        return response

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        return Context(
            services=self.services,
            uow=UnitOfWork(self.engine),
            authorization=request.headers.get("authorization"),
        )


def _mask_uncoded(error: GraphQLError) -> GraphQLError:
    if (error.extensions or {}).get("code"):
        return error
    log.error(
        "unexpected error outside execution: %s", error.message, exc_info=error.original_error
    )
    return GraphQLError(MASKED_MESSAGE, extensions={"code": "INTERNAL_SERVER_ERROR"})


class BodyLimit:
    """Refuses request bodies over a size with 413 before anything parses them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = {
            "errors": [
                {
                    "message": f"Request body is larger than {self.max_bytes} bytes.",
                    "extensions": {"code": "PAYLOAD_TOO_LARGE"},
                }
            ]
        }
        await JSONResponse(body, status_code=413)(scope, receive, send)


class _TooLarge(Exception):
    pass


def build_services(settings: Settings, engine: Engine) -> Services:
    popularity = PopularityCache(settings.database_url, settings.popularity_ttl_seconds)
    live_model = LiveModel(build_model_store(settings, engine), threads=settings.onnx_threads)
    return Services(
        popularity=popularity,
        live_model=live_model,
        recommendations=RecommendationService(
            engine,
            popularity,
            live_model,
            ListRecorder(
                engine,
                settings.list_flush_seconds,
                max_pending=settings.list_buffer_positions,
                enabled=settings.record_lists,
                observer=observe_list if settings.metrics_mode != "off" else None,
            ),
        ),
        attribution_days=settings.attribution_days,
        passwords=Passwords(),
        tokens=Tokens(secret=settings.signing_key(), ttl_seconds=settings.token_ttl_seconds),
        throttle=LoginThrottle(settings.login_max_failures, settings.login_lockout_seconds),
    )


def tune_garbage_collector() -> None:
    """For a serving process, once it has started: the objects made at start (schema, model,
    caches, modules) live as long as the process, so they are moved out of the collector's
    sight (`gc.freeze`), and young-generation collections run every 50,000 allocations
    rather than every 700. A request allocates thousands of short-lived objects; with the
    defaults the collector kept scanning those of the requests still in flight, which cost
    11 to 15% of the CPU of a recommendations request at 8 concurrent requests (bench/serve.py).
    Reference cycles are still collected, only in larger batches."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 100)


GC_YOUNG_THRESHOLD = 50_000


def create_app(
    settings: Settings,
    engine: Engine | None = None,
    services: Services | None = None,
    serving: bool = False,
) -> Starlette:
    """`serving`: this app is the process's one long-lived app (`bookrec serve`), which may
    tune process-wide settings; tests and embedders leave them alone."""
    owns_engine = engine is None
    engine = engine or make_engine(settings.database_url)
    services = services or build_services(settings, engine)
    schema = build_schema(
        Limits(
            max_depth=settings.max_query_depth,
            max_tokens=settings.max_query_tokens,
            max_aliases=settings.max_aliases,
            introspection=settings.introspection_enabled,
            hide_suggestions=settings.is_production,
        )
    )
    graphql = BookrecGraphQL(
        engine,
        services,
        schema=schema,
        mutation_attempts=settings.mutation_attempts,
        metrics=settings.metrics_mode != "off",
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
        allow_queries_via_get=True,
    )

    async def healthz(_: Request) -> Response:
        database = await anyio.to_thread.run_sync(_database_status, engine)
        body: dict[str, Any] = {"status": "ok" if database == "ok" else "degraded"}
        body["database"] = database
        body["pid"] = os.getpid()  # which worker answered (several follow one models dir)
        if services.live_model is not None:
            body["model"] = services.live_model.status()
        recorder = services.recommendations.recorder
        body["lists"] = {
            "pending": recorder.depth,
            "written": recorder.written,
            "dropped": recorder.dropped,
        }
        return Response(
            json.dumps(body),
            status_code=200 if database == "ok" else 503,
            media_type="application/json",
        )

    exposition = Exposition(engine) if settings.metrics_mode != "off" else None

    async def metrics(request: Request) -> Response:
        assert exposition is not None
        if not authorized(request.headers.get("authorization"), settings.metrics_token):
            return Response(
                "metrics need 'Authorization: Bearer <BOOKREC_METRICS token>'\n",
                status_code=401,
                headers={"www-authenticate": 'Bearer realm="metrics"'},
                media_type="text/plain",
            )
        body = await anyio.to_thread.run_sync(exposition.render)
        return Response(body, media_type=exposition.content_type)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:  # warm the popularity snapshot, so that no request waits for the first one
            await anyio.to_thread.run_sync(services.popularity.get)
        except Exception as exc:
            if database_unavailable(exc):
                log.warning("could not load the popularity snapshot at start: %s", one_line(exc))
            else:
                log.exception("could not load the popularity snapshot at start; will retry")
        live = services.live_model
        poller = None
        if live is not None:
            await anyio.to_thread.run_sync(live.refresh)
            await follow_experiment(services)

            async def follow_current_model() -> None:
                while True:
                    await asyncio.sleep(settings.model_poll_seconds)
                    await anyio.to_thread.run_sync(live.refresh)
                    await follow_experiment(services)

            # A plain task (not a task group): the lifespan may be entered and left from
            # different tasks, as test harnesses do.
            poller = asyncio.create_task(follow_current_model(), name="follow-current-model")
        recorder = services.recommendations.recorder
        recorder.start()
        sampler_task = None
        if exposition is not None:
            sampler = ProcessSampler()

            async def sample_process_state() -> None:
                while True:
                    served = live.current if live is not None else None
                    sampler.sample(
                        recorder.depth, recorder.dropped, served.version if served else None
                    )
                    await asyncio.sleep(METRICS_SAMPLE_SECONDS)

            sampler_task = asyncio.create_task(sample_process_state(), name="metrics-sampler")
        if serving:
            tune_garbage_collector()
        try:
            yield
        finally:
            for task in (poller, sampler_task):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            await anyio.to_thread.run_sync(recorder.stop)  # writes what is buffered
            services.popularity.dispose()
            if owns_engine:
                engine.dispose()

    routes = [
        Route("/healthz", healthz),
        Route("/graphql", graphql),  # the view answers other methods itself
        *(web_routes(graphiql=settings.graphiql_enabled) if settings.web_pages else []),
    ]
    if exposition is not None:
        routes.append(Route("/metrics", metrics))
    app = Starlette(lifespan=lifespan, routes=routes)
    app.state.engine = engine
    app.state.services = services
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        add_cors(app, settings)
    return app


async def follow_experiment(services: Services) -> None:
    """The running experiment, read from the database on each poll beside CURRENT. A
    failure (the database away) keeps the groups as they were and is logged."""
    try:
        await anyio.to_thread.run_sync(services.recommendations.follow_experiment)
    except Exception as exc:
        if database_unavailable(exc):
            log.warning("could not read the running experiment (kept): %s", one_line(exc))
        else:
            log.exception("could not read the running experiment; keeping the last one seen")


def add_cors(app: Starlette, settings: Settings) -> None:
    """Cross-origin access for the listed browser origins (outermost, so that preflights
    are answered before anything else looks at them). Tokens travel in the Authorization
    header, which the browser sends cross-origin only once a preflight allowed it;
    credentials (cookies) are allowed for listed origins only, never for '*' (the Fetch
    spec forbids that pairing), and a listed origin is echoed with `Vary: Origin`."""
    wildcard = "*" in settings.cors_origins
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"] if wildcard else settings.cors_origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "Accept"],
        allow_credentials=not wildcard,
        max_age=settings.cors_max_age_seconds,
    )


def _database_status(engine: Engine) -> str:
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return "ok"
    except Exception as exc:  # reachability is the question; any failure is the answer
        log.warning("database unreachable: %s", exc)
        return f"unreachable: {type(exc).__name__}"
