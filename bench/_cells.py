"""One cell of bench/serve.py: a scenario at a concurrency level, measured by wrk or by the
httpx driver (``Client``), after a warm-up that checks the scenario's answers in full; and
``measure``, which lets several scenarios take turns over rounds."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from _httpx_driver import percentiles_ms, run_drive
from _scenarios import Maker, wrk_requests
from _script import log
from _wrk import THREADS, run_wrk

from tests.support.server import Server


@dataclass
class Client:
    """How the cells are measured: ``wrk`` (the binary) or None for the httpx driver."""

    wrk: str | None
    workdir: Path
    requests: int  # the httpx driver's bound per cell
    seconds: float

    @property
    def name(self) -> str:
        return "wrk" if self.wrk else "httpx"

    def describe(self) -> str:
        if self.wrk:
            return (
                f"wrk (-t {THREADS}, one keep-alive connection per concurrent user, "
                f"{self.seconds:g} s per cell, 600 requests in rotation)"
            )
        return (
            "this process (asyncio + httpx, one keep-alive connection per virtual user; at "
            f"most {self.requests} requests or {self.seconds:g} s per cell)"
        )


def warm_up(server: Server, make: Maker, scenario: str, level: int, n: int) -> int:
    """The full check of a scenario's answers; returns how many failed. One request alone
    first (a cold server loads its popularity snapshot on first use; a concurrent burst at
    that moment starves the connection pool for 30 s, reported separately), then a
    concurrent round."""
    failed = 0
    for warm in (
        run_drive(server.url, make, 1, 2, 60.0),
        # Not cut short at 10 s when the warm-up must reach every reader of a pool (each
        # first list of a refreshed reader is a fold-in): at most half a second a request.
        run_drive(server.url, make, level, n, max(10.0, n / 2)),
    ):
        errors = [o for o in warm.outcomes if not o.ok]
        failed += len(errors)
        if errors:
            log(f"{scenario}: {len(errors)} warm-up request(s) failed: {errors[0].error}")
    return failed


def settle(server: Server, timeout: float = 120.0) -> None:
    """Wait until the server answers /healthz: wrk leaves the requests in flight when its
    time is up, and a server that answers one at a time (the book-manager path) would spend
    the next cell's first seconds on them."""
    httpx.get(f"{server.url}/healthz", timeout=timeout).raise_for_status()


def measure_cell(
    client: Client, server: Server, make: Maker, scenario: str, level: int
) -> dict[str, Any]:
    if client.wrk:
        settle(server)
        srv0 = server.cpu_seconds()
        res = run_wrk(
            client.wrk, server.url, wrk_requests(make), level, client.seconds, client.workdir
        )
        server_cpu, elapsed = server.cpu_seconds() - srv0, res.seconds
        n, errors, first_error = res.requests, res.errors, res.describe_errors()
        p50, p90, p99, client_cpu = res.p50_ms, res.p90_ms, res.p99_ms, res.client_cpu
    else:
        cell = run_drive(server.url, make, level, client.requests, client.seconds, server=server)
        elapsed, client_cpu, server_cpu = cell.elapsed, cell.client_cpu, cell.server_cpu or 0.0
        p50, p90, p99 = percentiles_ms([o.latency for o in cell.outcomes], (50, 90, 99))
        failed = [o for o in cell.outcomes if not o.ok]
        n, errors = len(cell.outcomes), len(failed)
        first_error = failed[0].error if failed else None
    row = {
        "scenario": scenario,
        "concurrency": level,
        "requests": n,
        "errors": errors,
        "rps": n / elapsed if elapsed else 0.0,
        "p50": p50,
        "p90": p90,
        "p99": p99,
        "seconds": elapsed,
        "srv_cpu": 100 * server_cpu / elapsed if elapsed else float("nan"),
        "cli_cpu": 100 * client_cpu / elapsed if elapsed else float("nan"),
        "first_error": first_error,
    }
    log(
        f"{scenario:<17} c={level:<3} n={n:<6} {row['rps']:8.1f} req/s  p50 {p50:8.2f} ms  "
        f"p99 {p99:8.2f} ms  errors {errors}  cpu server {row['srv_cpu']:.0f}% "
        f"client {row['cli_cpu']:.0f}%"
    )
    if first_error:
        log(f"    first error: {first_error}")
    return row


def paired_ratio(cell: dict[str, Any], base: dict[str, Any]) -> tuple[float, list[float]]:
    """How `cell`'s req/s compares with `base`'s: the median over the rounds of the ratio of
    the two cells of the same round (measured seconds apart), and those ratios. On a VM
    whose speed drifts by up to 2x within minutes, the ratio of the two median cells may
    take them from different rounds, and so compare a fast minute with a slow one; a
    round's two cells share the minute. Cells measured once: the plain ratio."""
    ours, theirs = cell.get("round_rps", [cell["rps"]]), base.get("round_rps", [base["rps"]])
    if len(ours) != len(theirs):
        ours, theirs = [cell["rps"]], [base["rps"]]
    ratios = [a / b if b else float("nan") for a, b in zip(ours, theirs, strict=True)]
    return statistics.median(ratios), ratios


def measure(
    client: Client,
    server: Server,
    makers: dict[str, Maker],
    levels: list[int],
    warmup: int,
    rounds: int = 1,
    warm_more: dict[str, int] | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Each scenario at each level, and the warm-up errors. With several scenarios and
    rounds, their cells take turns (round 1: a at c=1, b at c=1, a at c=8, ...; then round
    2), and each cell reported is the round with the median throughput, with every round's
    req/s (`round_rps`, for `paired_ratio`). `warm_more`: scenarios whose
    warm-up must be longer (every reader of a pool once, where the server keeps per-reader
    work while their history is unchanged)."""
    more = warm_more or {}
    warm_errors = sum(
        warm_up(server, make, scenario, max(levels), max(warmup, more.get(scenario, 0)))
        for scenario, make in makers.items()
    )
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for _ in range(rounds):
        for level in levels:
            for scenario, make in makers.items():
                row = measure_cell(client, server, make, scenario, level)
                runs.setdefault((scenario, level), []).append(row)
    rows = []
    for cells in runs.values():
        ranked = sorted(cells, key=lambda r: r["rps"])
        row = dict(ranked[len(ranked) // 2])
        row["round_rps"] = [r["rps"] for r in cells]  # in the order the rounds ran
        row["errors"] = sum(r["errors"] for r in cells)
        row["first_error"] = next((r["first_error"] for r in cells if r["first_error"]), None)
        rows.append(row)
    return rows, warm_errors
