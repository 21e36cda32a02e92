"""What /metrics costs the request path, measured in one process with A/B interleaving.

    python bench/metrics_overhead.py [--requests 400]

1. the instrumentation alone, in prometheus-client's multiprocess mode (as under `bookrec
   serve`): operation_label (a cached document) + observe_operation + observe_list of a
   10-book page, per call;
2. the same GraphQL requests (similarBooks, 10 books; the tiny catalog with a trained
   model) through two apps in process (httpx over ASGI), BOOKREC_METRICS off and on,
   alternating request by request, so that a busy machine slows both sides alike; the
   median time per request of each side and their ratio.

The load average is printed beside the figures; only the ratio means anything.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bookrec-bench-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(work / "prom")
    (work / "prom").mkdir()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    from app import metrics

    query = "{ similarBooks(bookId: 3, first: 10) { book { id } source } }"
    sources = ["MODEL"] * 10
    n = 20_000
    started = time.perf_counter()
    for _ in range(n):
        label = metrics.operation_label(query, None, None)
        metrics.observe_operation(label, "ok", 0.003)
        metrics.observe_list("similar", sources, None)
    per_call = (time.perf_counter() - started) / n
    print(f"instrumentation per operation (multiprocess mode): {per_call * 1e6:.1f} us", flush=True)

    from tests.support.tiny_catalog import create_database
    from training.pipeline import train

    url = f"sqlite:///{work / 'bench.db'}"
    create_database(url)
    train(url, work / "models", epochs=8)
    asyncio.run(interleaved(url, work / "models", query, args.requests))
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)


async def interleaved(url: str, models: Path, query: str, requests: int) -> None:
    import httpx

    from app.asgi import create_app
    from db.engine import make_engine
    from tests.support.api import make_settings

    engine = make_engine(url)
    apps = {
        mode: create_app(make_settings(url, model_dir=models, metrics=mode), engine)
        for mode in ("off", "on")
    }
    times: dict[str, list[float]] = {"off": [], "on": []}
    clients = {}
    for mode, app in apps.items():
        services = app.state.services
        await asyncio.to_thread(services.live_model.refresh)
        transport = httpx.ASGITransport(app=app)
        clients[mode] = httpx.AsyncClient(transport=transport, base_url="http://bench")
    try:
        for i in range(requests * 2 + 40):
            mode = ("off", "on")[i % 2]
            started = time.perf_counter()
            response = await clients[mode].post("/graphql", json={"query": query})
            elapsed = time.perf_counter() - started
            assert response.status_code == 200 and "errors" not in response.json()
            if i >= 40:  # after a warm-up
                times[mode].append(elapsed)
        scrape = await clients["on"].get("/metrics")
        assert scrape.status_code == 200 and "bookrec_lists_served_total" in scrape.text
    finally:
        for client in clients.values():
            await client.aclose()
        engine.dispose()
    off, on = (statistics.median(times[m]) for m in ("off", "on"))
    print(
        f"similarBooks(first: 10) in process, {requests} each, interleaved: median "
        f"off {off * 1000:.2f} ms, on {on * 1000:.2f} ms, on/off {on / off:.3f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
