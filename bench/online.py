"""The simulated shop, larger than its test: the online loop end to end over real HTTP.

    PYTHONPATH=. .venv/bin/python bench/online.py [--readers 300] [--tastes 4]
        [--books-per-taste 30] [--visits 4] [--first 5] [--concurrency 16] [--workers 2]
        [--epochs 10] [--chart PATH.png] [--keep]

1. a fresh SQLite shop: --tastes genres of --books-per-taste books; each reader has one
   hidden taste and has rated 12 books of it (4-5 stars) and 3 others (1-2 stars);
2. ``bookrec train`` (the real pipeline) trains a model; a deliberately poor one (random
   vectors in the same artifact format, tests/support/artifacts.py) is added and made
   current, so the shop serves the poor model;
3. ``bookrec serve --workers N``; ``bookrec model experiment start <trained> --share 0.5``;
   the script waits until every worker serves the variant;
4. every reader visits --visits times (--concurrency at once, over HTTP): asks for
   ``recommendations(first: --first)``, opens a book of their taste with probability 0.6 and
   another with 0.05 (``openBook``), rates half of what they opened (4.5 or 1.5 stars) and
   likes (dislikes) 30% of what they rated of their taste (of another);
5. ``bookrec report online --chart`` prints the table and the experiment's interval;
6. ``bookrec model experiment promote``; the script waits until every worker serves the
   trained version to everyone.
Exit status 1 on any request error or if a step does not happen.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import numpy as np
import sqlalchemy as sa
from _demo import new_workdir
from _machine import load_line
from _script import exit_on_sigterm, log

from artifact import ModelStore
from db.engine import advance_sequences, make_engine
from db.schema_setup import upgrade
from inference import Recommender
from schema.auth import Tokens
from tests.support.api import Api
from tests.support.artifacts import add_random_version
from tests.support.server import bookrec_command, bookrec_env, bookrec_server
from tests.support.shop import Reader, Taste, Visits, visit


def build_shop(url: str, readers: int, tastes: int, per_taste: int, seed: int) -> dict[int, Taste]:
    rng = np.random.default_rng(seed)
    books = {t: list(range(t * per_taste + 1, (t + 1) * per_taste + 1)) for t in range(tastes)}
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for t in range(tastes):
                conn.execute(
                    sa.text("INSERT INTO category (id, name) VALUES (:i, :n)"),
                    {"i": t + 1, "n": f"Taste {t + 1}"},
                )
            conn.execute(
                sa.text("INSERT INTO book (id, title) VALUES (:i, :t)"),
                [{"i": b, "t": f"Book {b}"} for bs in books.values() for b in bs],
            )
            conn.execute(
                sa.text("INSERT INTO book_category VALUES (:b, :c)"),
                [{"b": b, "c": t + 1} for t, bs in books.items() for b in bs],
            )
            conn.execute(
                sa.text(
                    "INSERT INTO app_user (id, username, username_key, created_at) "
                    "VALUES (:i, :n, :n, CURRENT_TIMESTAMP)"
                ),
                [{"i": u, "n": f"reader-{u}"} for u in range(1, readers + 1)],
            )
            rows = []
            hidden: dict[int, Taste] = {}
            for u in range(1, readers + 1):
                taste = int(rng.integers(tastes))
                hidden[u] = Taste(frozenset(books[taste]))
                others = [b for t, bs in books.items() if t != taste for b in bs]
                for b in rng.choice(books[taste], 12, replace=False):
                    rows.append({"u": u, "b": int(b), "h": int(rng.integers(8, 11))})
                for b in rng.choice(others, 3, replace=False):
                    rows.append({"u": u, "b": int(b), "h": int(rng.integers(2, 5))})
            conn.execute(
                sa.text(
                    "INSERT INTO rating VALUES (:u, :b, :h, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                rows,
            )
            advance_sequences(conn)
    finally:
        engine.dispose()
    return hidden


def bookrec(env: dict[str, str], *argv: str, timeout: float = 1800) -> str:
    done = subprocess.run(
        [*bookrec_command(), *argv], env=env, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise SystemExit(f"bookrec {' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def wait_workers(url: str, workers: int, ok: object, what: str, timeout: float = 120) -> float:
    """Poll /healthz until `workers` distinct pids answered with ok(model status)."""
    t0 = time.monotonic()
    good: set[int] = set()
    while time.monotonic() - t0 < timeout:
        body = httpx.get(f"{url}/healthz", timeout=10).json()
        if ok(body["model"]):  # type: ignore[operator]
            good.add(body["pid"])
        if len(good) >= workers:
            return time.monotonic() - t0
        time.sleep(0.1)
    raise SystemExit(f"timed out after {timeout}s waiting for every worker to {what}")


async def simulate(
    url: str, readers: list[Reader], visits: int, first: int, concurrency: int, seed: int
) -> Visits:
    seen = Visits()
    rng = random.Random(seed)
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        api = Api(client)

        async def one(reader: Reader) -> None:
            async with gate:
                await visit(api, reader, random.Random(rng.random()), first, seen)

        for _ in range(visits):
            await asyncio.gather(*(one(r) for r in readers))
    return seen


def main(argv: list[str] | None = None) -> int:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=300)
    parser.add_argument("--tastes", type=int, default=4)
    parser.add_argument("--books-per-taste", type=int, default=30)
    parser.add_argument("--visits", type=int, default=4)
    parser.add_argument("--first", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--share", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chart", type=Path, default=None, help="copy the chart here")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)

    workdir = new_workdir("bookrec-bench-online-")
    print("bookrec simulated shop", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))
    print(load_line())
    server = None
    try:
        url = f"sqlite:///{workdir / 'shop.db'}"
        models = workdir / "models"
        upgrade(url)
        hidden = build_shop(url, args.readers, args.tastes, args.books_per_taste, args.seed)
        n_books = args.tastes * args.books_per_taste
        print(
            f"shop: {args.readers} readers, {args.tastes} hidden tastes, {n_books} books, "
            f"15 ratings each before the experiment"
        )
        secret = secrets.token_urlsafe(48)
        env = bookrec_env(url, models, secret, BOOKREC_MODEL_POLL_SECONDS="1")
        env["BOOKREC_LOG_LEVEL"] = "WARNING"
        t0 = time.monotonic()
        bookrec(env, "train", "--epochs", str(args.epochs))
        trained = ModelStore(models).current()
        assert trained is not None
        poor = add_random_version(models, np.arange(1, args.readers + 1), np.arange(1, n_books + 1))
        ModelStore(models).publish(poor, check=Recommender.load)
        log(f"trained {trained} in {time.monotonic() - t0:.0f}s; poor {poor} is current")

        server = bookrec_server(env, workdir / "serve.log", args.workers, cwd=workdir)
        server.start(timeout=120)
        print(bookrec(env, "model", "experiment", "start", trained, "--share", str(args.share)))
        took = wait_workers(
            server.url, args.workers, lambda m: m["variant"] == trained, "serve the variant"
        )
        log(f"every worker serves variant {trained} ({took:.1f}s)")

        tokens = Tokens(secret, 24 * 3600)
        readers = [Reader(u, tokens.issue(u), hidden[u]) for u in range(1, args.readers + 1)]
        t0 = time.monotonic()
        seen = asyncio.run(
            simulate(server.url, readers, args.visits, args.first, args.concurrency, args.seed)
        )
        elapsed = time.monotonic() - t0
        print(
            f"simulated: {seen.lists} lists, {seen.shown} books shown, {seen.opened} opened, "
            f"{seen.rated} rated in {elapsed:.0f}s over HTTP ({args.workers} workers, "
            f"{args.concurrency} readers at once); request errors: {seen.failed}"
        )
        for error in seen.errors:
            print(f"  error: {error}")
        health = httpx.get(f"{server.url}/healthz", timeout=10).json()
        chart = workdir / "online.png"
        server.stop()  # a clean stop: every worker writes its buffered lists
        server = bookrec_server(env, workdir / "serve2.log", args.workers, cwd=workdir)
        server.start(timeout=120)
        print()
        minutes = max(1, round(elapsed / 60 / 8))  # about eight points over the simulation
        report = ["report", "online", "--since", "1h", "--bucket-minutes", str(minutes)]
        print(bookrec(env, *report, "--chart", str(chart)))
        if args.chart:
            shutil.copyfile(chart, args.chart)
            print(f"chart copied to {args.chart}")
        print(bookrec(env, "model", "experiment", "promote"))
        took = wait_workers(
            server.url,
            args.workers,
            lambda m: m["version"] == trained and m["variant"] is None,
            "serve the promoted version",
        )
        print(f"every worker serves {trained} to everyone {took:.1f}s after promote")
        with make_engine(url).connect() as conn:
            stored = conn.execute(sa.text("SELECT count(*) FROM rec_list")).scalar_one()
        print(
            f"lists recorded: {stored} of {seen.lists} served (one worker's buffer before the "
            f"stop, in positions: {json.dumps(health['lists'])})"
        )
        print(load_line(after_run=True))
        ok = seen.failed == 0 and stored == seen.lists
        return 0 if ok else 1
    finally:
        if server is not None:
            server.stop()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
