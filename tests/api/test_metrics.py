"""Prometheus /metrics: every family with values that match what was served, summed over
`--workers 2` by prometheus-client's multiprocess mode; refused when protected."""

from __future__ import annotations

import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from app.settings import ConfigError, Settings
from db.training_runs import finish_run, start_run
from tests.support.api import SECRET, api_for
from tests.support.server import bookrec_env, bookrec_server
from tests.support.tiny_catalog import populate

SIMILAR = "{ similarBooks(bookId: 3, first: 4) { book { id } source } }"
TOKEN = "scrape-token-0123456789abcdef"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    return found[(name, tuple(sorted(labels.items())))]  # type: ignore[no-any-return]


def similar(url: str) -> bool:
    response = httpx.post(f"{url}/graphql", json={"query": SIMILAR}, timeout=30)
    return response.status_code == 200 and "errors" not in response.json()


def workers_that_counted(multiproc: Path, label: bytes) -> set[str]:
    """The pids whose counter file (prometheus-client's, one per process) holds `label`."""
    return {f.stem for f in multiproc.glob("counter_*.db") if label in f.read_bytes()}


def record_runs(engine: sa.Engine) -> None:
    run = start_run(engine, "schedule", "host:1:a", "cold", 0)
    finish_run(engine, run, "published", version="v0002", gate_decision="published")
    run = start_run(engine, "new-ratings", "host:1:a", "warm", 10)
    finish_run(engine, run, "rejected-by-gate", version="v0003", gate_decision="worse")


def test_every_family_summed_over_two_workers(
    engine: sa.Engine,
    database_url: str,
    trained_models: tuple[str, Path],
    tmp_path: Path,
) -> None:
    populate(engine)  # the catalog the shared models were trained on
    record_runs(engine)
    models = tmp_path / "models"
    shutil.copytree(trained_models[1], models)
    env = bookrec_env(database_url, models, SECRET, BOOKREC_ENV="test", BOOKREC_METRICS="on")
    temp = Path(tempfile.gettempdir())
    earlier = set(temp.glob("bookrec-metrics-*"))
    with bookrec_server(env, tmp_path / "server.log", workers=2).start() as server:
        (multiproc,) = set(temp.glob("bookrec-metrics-*")) - earlier
        n = 0
        # Concurrent clients on new connections until both workers served some: then a
        # total equal to n on every scrape is the sum over both processes.
        with ThreadPoolExecutor(8) as pool:
            for _ in range(20):
                answers = list(pool.map(lambda _: similar(server.url), range(16)))
                assert all(answers)
                n += len(answers)
                if len(workers_that_counted(multiproc, b"similarBooks")) == 2:
                    break
        assert len(workers_that_counted(multiproc, b"similarBooks")) == 2
        bad = httpx.post(f"{server.url}/graphql", json={"query": "{ noSuchField }"}, timeout=10)
        assert bad.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        time.sleep(1.5)  # each worker copies its buffer and model state in once a second
        scrapes = [httpx.get(f"{server.url}/metrics", timeout=10) for _ in range(6)]
    for scrape in scrapes:  # whichever worker answers reports the sum over both
        assert scrape.status_code == 200
        assert scrape.headers["content-type"].startswith("text/plain")
        found = samples(scrape.text)
        ok = {"operation": "similarBooks", "outcome": "ok"}
        assert value(found, "bookrec_graphql_requests_total", **ok) == n
        assert (
            value(
                found,
                "bookrec_graphql_requests_total",
                operation="invalid",
                outcome="GRAPHQL_VALIDATION_FAILED",
            )
            == 1
        )
        assert value(found, "bookrec_graphql_request_seconds_count", operation="similarBooks") == n
        assert 0 < value(found, "bookrec_graphql_request_seconds_sum", operation="similarBooks") < n
        assert (
            value(
                found,
                "bookrec_lists_served_total",
                kind="similar",
                source="MODEL",
                variant="control",
            )
            == n
        )
        assert (
            value(found, "bookrec_list_positions_total", source="MODEL", variant="control") == 4 * n
        )
        assert value(found, "bookrec_model_version_served", version="v0002") == 1
        assert value(found, "bookrec_list_buffer_depth") >= 0
        assert value(found, "bookrec_list_pages_dropped_total") == 0
        runs = "bookrec_training_runs_total"
        assert value(found, runs, trigger="schedule", status="published") == 1
        assert value(found, runs, trigger="new-ratings", status="rejected-by-gate") == 1
        assert value(found, "bookrec_training_run_seconds_count", status="published") == 1
        assert value(found, "bookrec_training_runs_running") == 0
        assert value(found, "bookrec_training_last_finished_timestamp_seconds") > 1.7e9
    assert not multiproc.exists()  # removed when the server stopped


async def test_in_process_counts_operations_and_training_runs(
    engine: sa.Engine, database_url: str
) -> None:
    record_runs(engine)
    async with api_for(engine, database_url, metrics="on") as api:
        before = samples((await api.client.get("/metrics")).text)
        key = ("bookrec_graphql_requests_total", (("operation", "categories"), ("outcome", "ok")))
        await api.ok("{ categories { id } }")
        await api.ok("{ categories { id } }")
        after = samples((await api.client.get("/metrics")).text)
        assert after[key] - before.get(key, 0) == 2
        runs = ("bookrec_training_runs_total", (("status", "published"), ("trigger", "schedule")))
        assert after[runs] == 1


async def test_protected_by_a_bearer_token_and_absent_when_off(
    engine: sa.Engine, database_url: str
) -> None:
    async with api_for(engine, database_url, metrics=TOKEN) as api:
        assert (await api.client.get("/metrics")).status_code == 401
        wrong = await api.client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "bearer" in wrong.headers["www-authenticate"].lower()
        right = await api.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert right.status_code == 200 and "bookrec_training_runs_running" in right.text
    async with api_for(engine, database_url) as api:  # off by default
        assert (await api.client.get("/metrics")).status_code == 404


def test_production_refuses_open_metrics_unless_allowed() -> None:
    base = {"env": "production", "secret_key": SECRET}
    with pytest.raises(ConfigError, match="BOOKREC_METRICS"):
        Settings(**base, metrics="on")  # type: ignore[arg-type]
    assert Settings(**base, metrics="on", metrics_allow_open=True).metrics_mode == "on"  # type: ignore[arg-type]
    assert Settings(**base, metrics=TOKEN).metrics_token == TOKEN  # type: ignore[arg-type]
    assert Settings(**base).metrics_mode == "off"  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="16 characters"):
        Settings(env="test", metrics="short")  # type: ignore[arg-type]
