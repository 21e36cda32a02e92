"""Serving speed: bookrec's GraphQL API against the book-manager design's serving path.

    .venv/bin/python bench/serve.py [--quick] [--workers N] [--concurrency 1,8,32]
                                    [--requests 3000] [--seconds 20] [--model-dir DIR]

1. a fresh temporary directory: ``bookrec init-db`` + ``bookrec import demo`` (SQLite); the
   default model is trained once with ``bookrec train`` and cached in ~/.cache/bookrec/bench
   (or taken from --model-dir);
2. ``bookrec serve`` as a subprocess on a free loopback port (--workers);
3. this process drives it with an asyncio + httpx client (one keep-alive connection per
   virtual user), at each
   concurrency level, each cell bounded by --requests AND --seconds, after a warm-up:
   - trivial          ``{ __typename }``
   - books            ``books(first: 20)`` with categories and averageRating
   - rec-history      ``recommendations(first: 10)``, random demo readers (source MODEL)
   - rec-new-category same, readers registered with categories and no ratings (CATEGORY_POPULAR)
   - rec-new-foldin   same, readers registered with 3 ratings (FOLD_IN)
   - similar          ``similarBooks(first: 10)`` for random books
   Every answer is checked (HTTP 200, no GraphQL errors, 10 results of the expected source).
4. the book-manager design's serving path, in this bench only: a Starlette endpoint that runs
   ``model.predict`` of the Keras model (5-dim user and book embeddings concatenated -> Dense
   128 -> 32 -> 1, ``training.models.Seed000``, random weights) over all (user, book) pairs of
   one user, sorts, returns the top 10; served by uvicorn on another port, driven by the same
   client code. ``bookmgr`` is that design's path as the issue states it: per request, load
   the saved Keras model and ``predict`` (Keras' default batch of 32); ``bookmgr-warm`` keeps
   the model loaded and only predicts; ``bookmgr-1batch`` also gives it the whole catalog in
   one batch (its best case). The gate is on ``bookmgr``; the other two are shown beside it.
5. one table, then: recommendations(history) req/s / trivial req/s, and the p50 speedup of
   recommendations over the book-manager path, against the targets (>= 0.5x, >= 100x). The
   trivial and rec-history cells take turns over --rounds rounds (default 3) and the round
   with the median throughput is reported, so that a noisy minute on a shared machine cannot
   decide the ratio by hitting one side only.

Servers are stopped at the end (SIGTERM, then SIGKILL of their process group); the
temporary directory is removed unless --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
from _common import Request

TRIVIAL = "{ __typename }"
BOOKS = """query($after: String) { books(first: 20, after: $after) { edges { node {
  id title authors categories { name } averageRating } } } }"""
RECOMMENDATIONS = "{ recommendations(first: 10) { score source book { id title } } }"
SIMILAR = "query($id: ID!) { similarBooks(bookId: $id, first: 10) { score book { id } } }"
RATE = "mutation($b: ID!, $s: Float!) { rateBook(bookId: $b, stars: $s) { stars } }"

PRODUCT_SCENARIOS = (
    "trivial",
    "books",
    "rec-history",
    "rec-new-category",
    "rec-new-foldin",
    "similar",
)
BOOKMGR_SCENARIOS = ("bookmgr", "bookmgr-warm", "bookmgr-1batch")
GATED = ("trivial", "rec-history")  # the ratio target compares these two
TARGET_RATIO = 0.5
TARGET_SPEEDUP = 100.0


# --------------------------------------------------------------------------- checks


def _expect_list(
    field: str, n: int, source: str | None = None
) -> Callable[[dict[str, Any]], str | None]:
    def check(body: dict[str, Any]) -> str | None:
        problem = c.graphql_check(body)
        if problem:
            return problem
        items = body["data"][field]
        if len(items) != n:
            return f"{field}: {len(items)} items, expected {n}"
        if source is not None:
            wrong = sorted({i["source"] for i in items} - {source})
            if wrong:
                return f"{field}: source {wrong}, expected {source}"
        return None

    return check


def _check_trivial(body: dict[str, Any]) -> str | None:
    return c.graphql_check(body) or (
        None if body["data"].get("__typename") == "Query" else "bad data"
    )


def _check_books(body: dict[str, Any]) -> str | None:
    problem = c.graphql_check(body)
    if problem:
        return problem
    edges = body["data"]["books"]["edges"]
    if len(edges) != 20 or not all(e["node"]["categories"] for e in edges):
        return f"books: {len(edges)} edges (or a book without categories)"
    return None


def _check_bookmgr(body: dict[str, Any]) -> str | None:
    items = (body.get("data") or {}).get("recommendations") or []
    return None if len(items) == 10 else f"bookmgr: {len(items)} items"


# --------------------------------------------------------------------------- set-up


class Fixture:
    """Who asks and about what: tokens, book ids, registered new readers."""

    def __init__(
        self,
        secret: str,
        book_ids: list[int],
        reader_ids: list[int],
        category_ids: list[int],
        seed: int,
    ) -> None:
        from schema.auth import Tokens

        self.rng = random.Random(seed)
        self.book_ids = book_ids
        self.category_ids = category_ids
        tokens = Tokens(secret, 24 * 3600)
        sample = self.rng.sample(reader_ids, min(600, len(reader_ids)))
        self.history_tokens = [tokens.issue(uid) for uid in sample]
        self.category_tokens: list[str] = []
        self.foldin_tokens: list[str] = []


async def register_new_readers(fx: Fixture, base_url: str, n_category: int, n_foldin: int) -> None:
    """Readers registered through the API: some with categories only, some who then rate 3 books."""
    rng = fx.rng
    wanted = [
        [str(x) for x in rng.sample(fx.category_ids, rng.randint(1, 3))]
        for _ in range(n_category + n_foldin)
    ]
    prefix = f"bench{secrets.token_hex(3)}-"
    t0 = time.monotonic()
    readers = await c.register_readers(base_url, prefix, wanted)
    fx.category_tokens = [t for _, t in readers[:n_category]]
    fx.foldin_tokens = [t for _, t in readers[n_category:]]
    import httpx

    async with httpx.AsyncClient(base_url=base_url, timeout=60.0) as client:
        for token in fx.foldin_tokens:
            for book in rng.sample(fx.book_ids, 3):
                await c.graphql(
                    client, RATE, {"b": str(book), "s": rng.choice([3.0, 4.0, 4.5, 5.0])}, token
                )
    c.log(
        f"registered {len(readers)} new readers ({n_foldin} with 3 ratings) "
        f"in {time.monotonic() - t0:.1f}s"
    )


def product_request(fx: Fixture, scenario: str) -> Callable[[int, int], Request]:
    rng = fx.rng

    def auth(pool: list[str]) -> dict[str, str]:
        return {"Authorization": f"Bearer {rng.choice(pool)}"}

    if scenario == "trivial":
        return lambda vu, seq: Request(scenario, {"query": TRIVIAL}, check=_check_trivial)
    if scenario == "books":
        from schema.pagination import book_cursor

        def books(vu: int, seq: int) -> Request:
            # A random page of the catalog (cursor = the id before it), as a browsing reader.
            start = rng.randrange(0, len(fx.book_ids) - 40)
            after = book_cursor(fx.book_ids[start]) if start else None
            return Request(
                scenario, {"query": BOOKS, "variables": {"after": after}}, check=_check_books
            )

        return books
    if scenario.startswith("rec-"):
        pool, source = {
            "rec-history": (fx.history_tokens, "MODEL"),
            "rec-new-category": (fx.category_tokens, "CATEGORY_POPULAR"),
            "rec-new-foldin": (fx.foldin_tokens, "FOLD_IN"),
        }[scenario]
        check = _expect_list("recommendations", 10, source)
        return lambda vu, seq: Request(
            scenario, {"query": RECOMMENDATIONS}, auth(pool), check=check
        )
    if scenario == "similar":
        check = _expect_list("similarBooks", 10)
        return lambda vu, seq: Request(
            scenario,
            {"query": SIMILAR, "variables": {"id": str(rng.choice(fx.book_ids))}},
            check=check,
        )
    raise ValueError(scenario)


def bookmgr_request(fx: Fixture, scenario: str, n_users: int) -> Callable[[int, int], Request]:
    rng = fx.rng
    batch = len(fx.book_ids) if scenario == "bookmgr-1batch" else None
    load = scenario == "bookmgr"
    return lambda vu, seq: Request(
        scenario,
        {"userIndex": rng.randrange(n_users), "batchSize": batch, "load": load},
        path="/recommend",
        check=_check_bookmgr,
    )


# --------------------------------------------------------------------------- the book-manager path


def bookmanager_main(argv: list[str]) -> None:
    """Internal: serve the book-manager design's recommendation endpoint (run as a subprocess)."""
    parser = argparse.ArgumentParser(prog="serve.py _bookmanager")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--books", type=int, required=True)
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args(argv)

    import keras
    import numpy as np
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request as HttpRequest
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from training.archs.seed000 import Seed000

    warm = Seed000(args.users, args.books)  # the seed000 architecture; random weights
    warm.compile(optimizer="adam", loss="mse")
    warm([np.zeros(1, np.int64), np.zeros(1, np.int64)])  # build
    saved = Path(args.workdir) / "bookmanager.keras"
    warm.save(saved)
    all_books = np.arange(args.books, dtype=np.int64)

    async def recommend(request: HttpRequest) -> JSONResponse:
        body = await request.json()
        users = np.full(args.books, int(body["userIndex"]), dtype=np.int64)
        # The design's serving path: load the saved Keras model, predict every (user, book)
        # pair, then sort ("load": true). "load": false keeps one model loaded (its best
        # case). One request at a time per process (a blocking call on the event loop, like a
        # sync Django worker).
        model = keras.models.load_model(saved) if body.get("load") else warm
        stars = model.predict(
            [users, all_books], batch_size=body.get("batchSize"), verbose=0
        ).ravel()
        best = np.argsort(-stars)[:10]
        return JSONResponse(
            {
                "data": {
                    "recommendations": [
                        {"bookIndex": int(i), "score": float(stars[i])} for i in best
                    ]
                }
            }
        )

    async def healthz(_: HttpRequest) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app = Starlette(
        routes=[Route("/recommend", recommend, methods=["POST"]), Route("/healthz", healthz)]
    )
    uvicorn.run(app, host=c.LOOPBACK, port=args.port, log_level="warning")


def start_bookmanager(workdir: Path, n_users: int, n_books: int) -> c.Server:
    port = c.free_port()
    argv = [
        sys.executable,
        str(Path(__file__).resolve()),
        "_bookmanager",
        "--port",
        str(port),
        "--users",
        str(n_users),
        "--books",
        str(n_books),
        "--workdir",
        str(workdir),
    ]
    env = c.bookrec_env("sqlite://", workdir, "x" * 48)
    server = c.Server("bookmgr", argv, env, c.ROOT, port, workdir / "bookmgr.log")
    t0 = time.monotonic()
    server.start(ready_timeout=180)
    c.log(f"book-manager path ready on {server.base_url} in {time.monotonic() - t0:.1f}s")
    return server


# --------------------------------------------------------------------------- measuring


def warm_up(
    server: c.Server, make: Callable[[int, int], Request], scenario: str, level: int, n: int
) -> None:
    # One request alone first (a cold server loads its popularity snapshot on first use; a
    # concurrent burst at that moment starves the connection pool for 30 s, reported
    # separately), then a concurrent round.
    for warm in (
        c.run_drive(server.base_url, make, 1, 2, 60.0),
        c.run_drive(server.base_url, make, level, n, 10.0),
    ):
        failed = [o for o in warm.outcomes if not o.ok]
        if failed:
            c.log(f"{scenario}: {len(failed)} warm-up request(s) failed: {failed[0].error}")


def measure_cell(
    server: c.Server,
    make: Callable[[int, int], Request],
    scenario: str,
    level: int,
    requests: int,
    seconds: float,
) -> dict[str, Any]:
    cell = c.run_drive(server.base_url, make, level, requests, seconds, server=server)
    lat = [o.latency for o in cell.outcomes]
    p50, p95, p99 = c.percentiles_ms(lat)
    errors = [o for o in cell.outcomes if not o.ok]
    row = {
        "scenario": scenario,
        "concurrency": level,
        "requests": len(cell.outcomes),
        "errors": len(errors),
        "rps": len(cell.outcomes) / cell.elapsed if cell.elapsed else 0.0,
        "p50": p50,
        "p95": p95,
        "p99": p99,
        "seconds": cell.elapsed,
        "srv_cpu": 100 * cell.server_cpu / cell.elapsed
        if cell.server_cpu is not None
        else float("nan"),
        "cli_cpu": 100 * cell.client_cpu / cell.elapsed,
        "first_error": errors[0].error if errors else None,
    }
    c.log(
        f"{scenario:<17} c={level:<3} n={row['requests']:<5} {row['rps']:8.1f} req/s  "
        f"p50 {p50:8.2f} ms  p99 {p99:8.2f} ms  errors {row['errors']}"
    )
    if errors:
        c.log(f"    first error: {errors[0].error}")
    return row


def measure(
    server: c.Server,
    makers: dict[str, Callable[[int, int], Request]],
    levels: list[int],
    requests: int,
    seconds: float,
    warmup: int,
    rounds: int = 1,
) -> list[dict[str, Any]]:
    """Each scenario at each level. With several scenarios and rounds, their cells take
    turns (round 1: a at c=1, b at c=1, a at c=8, ...; then round 2), and each cell reported
    is the round with the median throughput: on a shared machine a slow minute then hits
    both sides of a comparison alike, and one lucky or unlucky cell decides nothing."""
    for scenario, make in makers.items():
        warm_up(server, make, scenario, max(levels), warmup)
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for _ in range(rounds):
        for level in levels:
            for scenario, make in makers.items():
                row = measure_cell(server, make, scenario, level, requests, seconds)
                runs.setdefault((scenario, level), []).append(row)
    rows = []
    for cells in runs.values():
        ranked = sorted(cells, key=lambda r: r["rps"])
        row = dict(ranked[len(ranked) // 2])
        row["errors"] = sum(r["errors"] for r in cells)
        row["first_error"] = next((r["first_error"] for r in cells if r["first_error"]), None)
        row["rounds"] = len(cells)
        rows.append(row)
    return sorted(rows, key=lambda r: (list(makers).index(r["scenario"]), r["concurrency"]))


def report(rows: list[dict[str, Any]], levels: list[int]) -> bool:
    headers = [
        "scenario",
        "conc",
        "requests",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "errors",
        "secs",
        "srv cpu%",
        "cli cpu%",
    ]
    print(
        c.table(
            headers,
            [
                [
                    r["scenario"],
                    r["concurrency"],
                    r["requests"],
                    r["rps"],
                    r["p50"],
                    r["p95"],
                    r["p99"],
                    r["errors"],
                    r["seconds"],
                    r["srv_cpu"],
                    r["cli_cpu"],
                ]
                for r in rows
            ],
        )
    )
    for r in rows:
        if r["first_error"]:
            print(f"  {r['scenario']} c={r['concurrency']}: first error: {r['first_error']}")
    by = {(r["scenario"], r["concurrency"]): r for r in rows}
    ok = True
    print()
    print(f"recommendations(history) req/s / trivial req/s (target >= {TARGET_RATIO}x):")
    for level in levels:
        rec, triv = by.get(("rec-history", level)), by.get(("trivial", level))
        if rec and triv and triv["rps"]:
            ratio = rec["rps"] / triv["rps"]
            good = ratio >= TARGET_RATIO and rec["errors"] == 0
            ok &= good
            print(
                f"  c={level:<3} {rec['rps']:8.1f} / {triv['rps']:8.1f} = {ratio:5.2f}x  "
                f"{'PASS' if good else 'FAIL'}"
            )
    print(
        f"recommendations(history) p50 speedup vs the book-manager path (target >= {TARGET_SPEEDUP:.0f}x):"
    )
    for base in BOOKMGR_SCENARIOS:
        for level in levels:
            rec, bm = by.get(("rec-history", level)), by.get((base, level))
            if rec and bm and rec["p50"] > 0:
                speedup = bm["p50"] / rec["p50"]
                thr = rec["rps"] / bm["rps"] if bm["rps"] else float("inf")
                good = speedup >= TARGET_SPEEDUP
                if base == "bookmgr":
                    ok &= good
                print(
                    f"  vs {base:<15} c={level:<3} p50 {bm['p50']:9.2f} / {rec['p50']:7.2f} ms = "
                    f"{speedup:7.1f}x  (throughput {thr:6.1f}x)  "
                    f"{'PASS' if good else 'FAIL'}{'' if base == 'bookmgr' else ' (info)'}"
                )
    return ok


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_bookmanager"]:
        bookmanager_main(argv[1:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a few requests per cell (CI smoke: exit status 1 only on request errors)",
    )
    parser.add_argument("--workers", type=int, default=1, help="bookrec serve --workers")
    parser.add_argument("--concurrency", default=None, help="levels, e.g. 1,8,32")
    parser.add_argument("--requests", type=int, default=None, help="max requests per cell")
    parser.add_argument("--seconds", type=float, default=None, help="max seconds per cell")
    parser.add_argument("--scenarios", default=",".join(PRODUCT_SCENARIOS + BOOKMGR_SCENARIOS))
    parser.add_argument(
        "--model-dir", type=Path, default=None, help="a models dir with a CURRENT model"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="rounds of the trivial and rec-history cells, taking turns (median reported)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    args = parser.parse_args(argv)

    levels = [int(x) for x in (args.concurrency or ("1,8" if args.quick else "1,8,32")).split(",")]
    requests = args.requests or (40 if args.quick else 3000)
    seconds = args.seconds or (3.0 if args.quick else 20.0)
    args.rounds = args.rounds or (1 if args.quick else 3)
    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = set(scenarios) - set(PRODUCT_SCENARIOS + BOOKMGR_SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}")
    n_new = 4 if args.quick else 32

    print("bookrec serving benchmark", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))
    for line in c.machine_info():
        print(line)
    print(
        f"cells: concurrency {levels}, at most {requests} requests or {seconds:g} s each "
        f"(after a warm-up); bookrec serve --workers {args.workers}; client: this process "
        f"(asyncio + httpx, one keep-alive connection per virtual user)"
    )
    sys.stdout.flush()

    workdir = c.new_workdir("bookrec-bench-serve-")
    servers: list[c.Server] = []
    t_start = time.monotonic()
    try:
        database_url = f"sqlite:///{workdir / 'bookrec.db'}"
        setup_log = workdir / "setup.log"
        c.prepare_database(database_url, workdir, setup_log)
        model_dir = c.prepare_model(args.model_dir, database_url, workdir, setup_log)
        book_ids, reader_ids, category_ids = c.read_catalog(database_url)
        secret = secrets.token_urlsafe(48)
        fx = Fixture(secret, book_ids, reader_ids, category_ids, args.seed)

        rows: list[dict[str, Any]] = []
        product = [s for s in scenarios if s in PRODUCT_SCENARIOS]
        if product:
            server = c.start_bookrec(database_url, model_dir, secret, workdir, args.workers)
            servers.append(server)
            from inference.artifact import current_version

            print(
                f"model: {current_version(model_dir)} in {model_dir}; {len(book_ids)} books, "
                f"{len(reader_ids)} demo readers with ratings"
            )
            if {"rec-new-category", "rec-new-foldin"} & set(product):
                asyncio.run(register_new_readers(fx, server.base_url, n_new, n_new))
            # The two sides of the ratio target take turns, over --rounds rounds.
            gated = [x for x in product if x in GATED]
            if gated:
                rows += measure(
                    server,
                    {x: product_request(fx, x) for x in gated},
                    levels,
                    requests,
                    seconds,
                    warmup=max(levels) * 2,
                    rounds=args.rounds,
                )
            for scenario in (x for x in product if x not in GATED):
                rows += measure(
                    server,
                    {scenario: product_request(fx, scenario)},
                    levels,
                    requests,
                    seconds,
                    warmup=max(levels) * 2,
                )
            server.stop()
        baseline = [s for s in scenarios if s in BOOKMGR_SCENARIOS]
        if baseline:
            bm = start_bookmanager(workdir, len(reader_ids), len(book_ids))
            servers.append(bm)
            for scenario in baseline:
                rows += measure(
                    bm,
                    {scenario: bookmgr_request(fx, scenario, len(reader_ids))},
                    levels,
                    requests,
                    seconds,
                    warmup=4,
                )
            bm.stop()
        order = PRODUCT_SCENARIOS + BOOKMGR_SCENARIOS
        rows.sort(key=lambda r: (order.index(r["scenario"]), r["concurrency"]))
        print()
        if args.rounds > 1:
            print(
                f"{' and '.join(GATED)}: {args.rounds} rounds, taking turns; each cell shown is "
                "the round with the median req/s"
            )
        ok = report(rows, levels)
        print(c.load_line(after_run=True))
        errors = sum(r["errors"] for r in rows)
        print(
            f"\ntotal {time.monotonic() - t_start:.0f}s; targets: {'PASS' if ok else 'FAIL'}"
            f"{' (not judged with --quick: too few samples)' if args.quick else ''}; "
            f"request errors: {errors}"
        )
        if args.quick:  # a smoke run: it must work; its few samples cannot judge the targets
            return 1 if errors else 0
        return 0 if ok and not errors else 1
    finally:
        for server in servers:
            server.stop()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
