"""Operation-wide policies: the unit of work's outcome, and what errors clients see."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from db.errors import database_unavailable, one_line, transient_sqlstate
from schema.errors import ApiError, ServiceUnavailable

log = logging.getLogger("bookrec.graphql")

MASKED_MESSAGE = "Internal server error. It has been logged; please try again later."


def is_unexpected(error: GraphQLError) -> bool:
    """A bug or an outage, not a client mistake: raised while resolving a field
    (it has a path), and not one of our deliberate errors."""
    original = error.original_error
    return (
        original is not None and not isinstance(original, GraphQLError) and error.path is not None
    )


def classify(error: GraphQLError) -> str:
    if error.extensions and isinstance(error.extensions.get("code"), str):
        return str(error.extensions["code"])
    if isinstance(error.original_error, ApiError):
        return error.original_error.code
    if isinstance(error, ApiError):
        return error.code
    if is_unexpected(error):
        if database_unavailable(error.original_error):
            return ServiceUnavailable.code
        return "INTERNAL_SERVER_ERROR"
    message = error.message
    if message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if message.startswith("Variable '$") and (
        "invalid value" in message or "of required type" in message or "was not provided" in message
    ):
        return "BAD_USER_INPUT"
    if error.path is None:
        return "GRAPHQL_VALIDATION_FAILED"
    return "BAD_USER_INPUT"


class UnitOfWorkExtension(SchemaExtension):
    """One transaction per operation: committed if it succeeded; rolled back, whole, if
    any part of a mutation failed (the response then carries no data, so that a client
    never sees as done what was not kept). A mutation the database rolled back to break a
    deadlock or a serialisation conflict is marked on the context (`transient_failure`),
    for the view to run again. Listed after ErrorPolicy, so that it runs first on the way
    out and sees the errors as raised."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context.context
        ctx.uow.writes = self.execution_context.operation_type == OperationType.MUTATION
        yield

    async def on_operation(self) -> AsyncIterator[None]:  # type: ignore[override]
        yield
        ctx = self.execution_context.context
        result = self.execution_context.result
        failed = bool(result is not None and result.errors) or result is None
        is_mutation = ctx.uow.writes
        if is_mutation and result is not None and result.errors:
            ctx.transient_failure = next(
                filter(None, (transient_sqlstate(e.original_error) for e in result.errors)), None
            )
        if is_mutation and not failed:
            try:
                await ctx.uow.commit()
            except Exception as exc:
                ctx.transient_failure = transient_sqlstate(exc)
                unavailable = database_unavailable(exc)
                if unavailable:  # never run again: a lost COMMIT's outcome is unknown
                    log_unavailable("commit", exc)
                elif not (ctx.transient_failure and ctx.retry_transient):
                    log.exception("commit failed")
                await ctx.uow.rollback()
                if result is not None:
                    result.data = None
                    # Already logged above; ErrorPolicy keeps an error that has a code.
                    result.errors = [
                        ServiceUnavailable()
                        if unavailable
                        else GraphQLError(
                            MASKED_MESSAGE, extensions={"code": "INTERNAL_SERVER_ERROR"}
                        )
                    ]
                return
            for hook in ctx.after_commit:  # quick, non-blocking: they start work elsewhere
                try:
                    hook()
                except Exception:  # what was committed stays the answer
                    log.exception("after-commit hook failed")
            return
        await ctx.uow.rollback()
        if is_mutation and result is not None and result.data is not None:
            result.data = None


def log_unavailable(where: str, exc: BaseException | None) -> None:
    """An outage is expected, not a bug: one WARNING line, no traceback."""
    log.warning("database unavailable in %s: %s", where, one_line(exc))


class ErrorPolicy(SchemaExtension):
    """Every error gets `extensions.code`; unexpected ones are logged with their traceback
    and reach the client only as a generic message. An operation that failed because the
    database is unavailable is answered as a whole with one SERVICE_UNAVAILABLE error and
    no data (the view makes it HTTP 503 with Retry-After), logged as one warning."""

    def __init__(self, *, hide_suggestions: bool = False) -> None:
        self.hide_suggestions = hide_suggestions

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            unavailable = [e for e in result.errors if classify(e) == ServiceUnavailable.code]
            if unavailable:
                first = unavailable[0]
                if is_unexpected(first):  # ServiceUnavailable itself was logged where made
                    log_unavailable(
                        ".".join(map(str, first.path or [])) or "operation", first.original_error
                    )
                outage = {id(e) for e in unavailable}
                for error in result.errors:  # a bug beside the outage is still logged
                    if id(error) not in outage:
                        self._present(error)
                result.data = None
                result.errors = [ServiceUnavailable()]
                return
            result.errors = [self._present(e) for e in result.errors]

    def _present(self, error: GraphQLError) -> GraphQLError:
        if error.message == MASKED_MESSAGE:  # masked (and logged) where it was made
            return error
        code = classify(error)
        ctx = self.execution_context.context
        if code == "INTERNAL_SERVER_ERROR" and not (ctx.transient_failure and ctx.retry_transient):
            # (A failure that will be run again is not an answer: the view logs a warning.)
            log.error(
                "unexpected error in %s: %s",
                ".".join(map(str, error.path or [])) or "operation",
                error.original_error,
                exc_info=error.original_error,
            )
        if code == "INTERNAL_SERVER_ERROR":
            return GraphQLError(MASKED_MESSAGE, path=error.path, extensions={"code": code})
        message = error.message
        if self.hide_suggestions and " Did you mean" in message:
            message = message.split(" Did you mean", 1)[0]
        extensions: dict[str, Any] = {**(error.extensions or {}), "code": code}
        return GraphQLError(
            message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions=extensions,
        )
