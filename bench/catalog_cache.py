"""What keeping the catalog's rows (db.catalog_cache) saves a recommendations request: the
frontend's shape in one process, the kept rows on and off taking turns.

    .venv/bin/python bench/catalog_cache.py [--rounds 8] [--requests 1000]

The demo set-up of bench/serve.py (demo catalog, the cached default model), bookrec's own
app driven through ASGI directly (no HTTP, no client process: the figure is the app's own
CPU), one BLAS thread as `bookrec serve` sets. 600 readers the model knows take turns (a
different one each request). Each round runs the frontend's query `--requests` times with
the service's catalog cache as it serves (`on`) and with one that keeps no book
(`CatalogCache(max_books=0)`: every trip reads its rows and categories, as before the
cache; the hidden set is kept in both), then `{ __typename }` for scale. Printed: CPU ms
per request of the whole process (the list recorder's thread included), minimum and median
over the rounds; only the ratio between `on` and `off` of the same run means anything.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as `bookrec serve` sets (before numpy)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _demo import new_workdir, prepare_database, prepare_model  # noqa: E402
from _machine import machine_info  # noqa: E402
from _scenarios import RECOMMENDATIONS_FRONTEND  # noqa: E402
from _script import exit_on_sigterm, log  # noqa: E402

TRIVIAL = "{ __typename }"


async def _call(app: object, body: bytes, token: str) -> bytes:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"host", b"bench"),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent = False

    async def receive() -> dict[str, object]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # never disconnects
        raise AssertionError

    out: list[bytes] = []

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.body":
            out.append(message.get("body", b""))  # type: ignore[arg-type]

    await app(scope, receive, send)  # type: ignore[operator]
    return b"".join(out)


async def _run(app: object, service: object, tokens: list[str], rounds: int, n: int) -> None:
    from db.catalog_cache import CatalogCache

    kept = service.catalog  # type: ignore[attr-defined]
    none = CatalogCache(max_books=0)
    front = json.dumps({"query": RECOMMENDATIONS_FRONTEND}).encode()
    trivial = json.dumps({"query": TRIVIAL}).encode()
    answer = json.loads(await _call(app, front, tokens[0]))
    if "errors" in answer or len(answer["data"]["recommendations"]) != 10:
        raise SystemExit(f"the frontend's query failed: {answer}")
    for i in range(300):  # warm: every reader's first request, both caches
        service.catalog = kept if i % 2 else none  # type: ignore[attr-defined]
        await _call(app, front, tokens[i % len(tokens)])
    results: dict[str, list[float]] = {"on": [], "off": [], "trivial": []}
    for r in range(rounds):
        for name, cache, body in (
            ("on", kept, front),
            ("off", none, front),
            ("trivial", kept, trivial),
        ):
            service.catalog = cache  # type: ignore[attr-defined]
            t0 = time.process_time()
            for i in range(n):
                await _call(app, body, tokens[(i * 7 + r) % len(tokens)])
            results[name].append((time.process_time() - t0) / n * 1e3)
        log(
            f"round {r + 1}/{rounds}: "
            + ", ".join(f"{k} {v[-1]:.3f} ms" for k, v in results.items())
        )
    service.catalog = kept  # type: ignore[attr-defined]
    print(f"{'':22s} {'min ms':>8s} {'median ms':>10s}   (CPU per request, {rounds} rounds of {n})")
    for name, label in (
        ("on", "frontend, rows kept"),
        ("off", "frontend, rows read"),
        ("trivial", "{ __typename }"),
    ):
        values = sorted(results[name])
        print(f"{label:22s} {values[0]:8.3f} {values[len(values) // 2]:10.3f}")
    med = {k: sorted(v)[len(v) // 2] for k, v in results.items()}
    print(
        f"kept / read: {min(results['on']) / min(results['off']):.2f} (minima), "
        f"{med['on'] / med['off']:.2f} (medians)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    exit_on_sigterm()
    print("bookrec catalog cache benchmark", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))
    for line in machine_info():
        print(line)
    workdir = new_workdir("bookrec-bench-catalog-")
    database_url = f"sqlite:///{workdir / 'bookrec.db'}"
    prepare_database(database_url, workdir, workdir / "setup.log")
    model_dir = prepare_model(None, database_url, workdir, workdir / "setup.log")
    secret = "b" * 48
    os.environ.update(
        BOOKREC_DATABASE_URL=database_url,
        BOOKREC_MODEL_DIR=str(model_dir),
        BOOKREC_SECRET_KEY=secret,
        BOOKREC_LOG_LEVEL="WARNING",
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    from app.asgi import build_services, create_app
    from app.settings import load_settings
    from db.engine import make_engine
    from schema.auth import Tokens

    settings = load_settings()
    engine = make_engine(settings.database_url)
    services = build_services(settings, engine)
    app = create_app(settings, engine, services, serving=True)
    tokens = Tokens(secret, 24 * 3600)
    readers = [tokens.issue(user) for user in range(1, 601)]  # demo readers, all in the model

    async def run() -> None:
        async with app.router.lifespan_context(app):
            await _run(app, services.recommendations, readers, args.rounds, args.requests)

    try:
        asyncio.run(run())
    finally:
        engine.dispose()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
