"""The Python load driver (asyncio + httpx): bounded in requests and in time, it records the
latency and outcome of every request and checks every answer in full. bench/load.py needs
that (every acknowledged write is verified afterwards); bench/serve.py uses it for its
correctness warm-up and with ``--client httpx``. Its throughput figures are the client's as
much as the server's: it shares the cores with the server (see bench/_wrk.py)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from tests.support.server import Server


@dataclass
class Request:
    kind: str
    payload: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    path: str = "/graphql"
    # Inspects the decoded JSON body of a 200 answer: None if fine, else what is wrong.
    check: Callable[[dict[str, Any]], str | None] | None = None
    meta: Any = None


@dataclass
class Outcome:
    request: Request
    started: float
    latency: float
    ok: bool
    error: str | None
    body: dict[str, Any] | None


@dataclass
class Cell:
    outcomes: list[Outcome]
    elapsed: float
    client_cpu: float
    server_cpu: float | None


def graphql_check(body: dict[str, Any]) -> str | None:
    if body.get("errors"):
        err = body["errors"][0]
        code = (err.get("extensions") or {}).get("code", "?")
        return f"GraphQL error {code}: {err.get('message', '')[:120]}"
    if body.get("data") is None:
        return "no data"
    return None


def percentiles_ms(latencies: Sequence[float], qs: Sequence[float] = (50, 95, 99)) -> list[float]:
    if not latencies:
        return [float("nan")] * len(qs)
    return [float(v) * 1000 for v in np.percentile(np.asarray(latencies), qs)]


async def _send(client: httpx.AsyncClient, req: Request, t0: float) -> Outcome:
    start = time.perf_counter()
    body: dict[str, Any] | None = None
    try:
        response = await client.post(req.path, json=req.payload, headers=req.headers)
        latency = time.perf_counter() - start
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200:
            error: str | None = f"HTTP {response.status_code}: {response.text[:120]}"
        elif body is None:
            error = "response is not JSON"
        else:
            error = (req.check or graphql_check)(body)
    except httpx.HTTPError as exc:
        latency = time.perf_counter() - start
        error = f"{type(exc).__name__}: {exc}"[:160]
    return Outcome(req, start - t0, latency, error is None, error, body)


async def drive(
    base_url: str,
    make: Callable[[int, int], Request],
    concurrency: int,
    max_requests: int,
    max_seconds: float,
    on_outcome: Callable[[Outcome], None] | None = None,
    server: Server | None = None,
    timeout: float = 60.0,
) -> Cell:
    """``concurrency`` virtual users, each sending ``make(vu, seq)`` requests back to back over
    its own keep-alive connection, until ``max_requests`` were sent or ``max_seconds`` passed
    (requests in flight then finish). Every request's latency and outcome is recorded.

    One client per virtual user, as load generators do (wrk, k6): httpx's shared pool costs
    the client more CPU per request the more connections it holds, and at 32 it was this
    process, not the server, that set the pace."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    outcomes: list[Outcome] = []
    sent = 0
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout)
            )
            for _ in range(concurrency)
        ]
        t0 = time.perf_counter()
        deadline = t0 + max_seconds
        cpu0 = time.process_time()
        srv0 = server.cpu_seconds() if server else None

        async def vu(index: int) -> None:
            nonlocal sent
            seq = 0
            while sent < max_requests and time.perf_counter() < deadline:
                sent += 1
                outcome = await _send(clients[index], make(index, seq), t0)
                seq += 1
                outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)

        await asyncio.gather(*(vu(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - t0
        client_cpu = time.process_time() - cpu0
        server_cpu = server.cpu_seconds() - srv0 if server and srv0 is not None else None
    return Cell(outcomes, elapsed, client_cpu, server_cpu)


def run_drive(*args: Any, **kwargs: Any) -> Cell:
    return asyncio.run(drive(*args, **kwargs))
