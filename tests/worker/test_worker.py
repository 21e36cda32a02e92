"""`bookrec worker`: retraining after new ratings and on a schedule, one worker at a time,
every run recorded, and a failed run never touching the serving model. The real pipeline
and gate on the tiny catalog, a few epochs."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.worker import RetrainWorker, Schedule
from artifact import ModelStore
from db import leases
from db.training_runs import recent_runs
from tests.support.api import SECRET
from tests.support.server import bookrec_command, bookrec_env
from tests.support.tiny_catalog import populate

EPOCHS = 3


def trainer(database_url: str, models: Path) -> Callable:  # type: ignore[type-arg]
    from training.incremental import WarmOptions
    from training.pipeline import train

    def run(cold: bool, before_publish: Callable[[], None]):  # type: ignore[no-untyped-def]
        return train(
            database_url,
            models,
            epochs=EPOCHS,
            warm=WarmOptions(cold=cold),
            before_publish=before_publish,
        )

    return run


def worker(
    engine: sa.Engine,
    database_url: str,
    models: Path,
    every_hours: float = 0.0,
    after_ratings: int = 0,
    poll_seconds: float = 0.2,
) -> RetrainWorker:
    return RetrainWorker(
        engine,
        models,
        trainer(database_url, models),
        Schedule(every_hours, after_ratings, poll_seconds, lease_seconds=30),
    )


def add_ratings(engine: sa.Engine, pairs: list[tuple[int, int]]) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO rating (user_id, book_id, half_stars, created_at, updated_at) "
                "VALUES (:u, :b, 8, :t, :t)"
            ),
            [{"u": u, "b": b, "t": _now()} for u, b in pairs],
        )


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)


def unrated_pairs(engine: sa.Engine, n: int) -> list[tuple[int, int]]:
    with engine.connect() as conn:
        rated = set(conn.execute(sa.text("SELECT user_id, book_id FROM rating")).all())
    pairs = [(u, b) for u in range(1, 41) for b in range(1, 25) if (u, b) not in rated]
    return pairs[:n]


def test_retrains_after_n_new_ratings_warm_from_the_current_model(
    engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    populate(engine)
    models = tmp_path / "models"
    w = worker(engine, database_url, models, after_ratings=5)
    first = w.run_once()
    assert first is not None and first.trigger == "new-ratings" and first.status == "published"
    assert first.new_ratings == 400 and first.mode == "cold"  # nothing to start from
    assert ModelStore(models).current() == first.version == "v0001"
    assert w.run_once() is None  # nothing new since

    pairs = unrated_pairs(engine, 5)
    add_ratings(engine, pairs[:4])
    assert w.run_once() is None  # 4 < 5
    add_ratings(engine, pairs[4:])
    second = w.run_once()
    assert second is not None and second.trigger == "new-ratings"
    assert second.new_ratings == 5 and second.mode == "warm"
    assert second.status in ("published", "rejected-by-gate")
    assert second.gate_decision and second.version == "v0002"
    assert second.duration_seconds is not None and second.duration_seconds > 0
    manifest = ModelStore(models).manifest("v0002")
    assert manifest["hyperparameters"]["warm_started_from"] == "v0001"
    assert manifest["ratings_high_water"] is not None
    assert w.run_once() is None
    assert leases.holder_of(engine, "retrain") is None  # released after each check


def test_retrains_on_its_schedule(engine: sa.Engine, database_url: str, tmp_path: Path) -> None:
    populate(engine)
    models = tmp_path / "models"
    w = worker(engine, database_url, models, every_hours=4 / 3600, poll_seconds=0.2)
    loop = threading.Thread(target=w.run_forever)
    loop.start()
    try:
        deadline = time.monotonic() + 120
        while len(recent_runs(engine)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        w.stop.set()
        loop.join(120)
    runs = recent_runs(engine)[::-1]
    assert [r.trigger for r in runs][:2] == ["schedule", "schedule"]
    assert all(r.status in ("published", "rejected-by-gate") for r in runs)
    gap = (runs[1].started_at - runs[0].started_at).total_seconds()
    assert gap >= 4  # not before the schedule said so
    assert ModelStore(models).versions()[:2] == ["v0001", "v0002"]


def test_a_failing_run_is_recorded_and_the_serving_model_stays(
    engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    populate(engine)
    models = tmp_path / "models"
    w = worker(engine, database_url, models)
    assert w.run_once(manual=True).status == "published"  # type: ignore[union-attr]
    with engine.begin() as conn:  # the pipeline refuses to train on nothing
        conn.execute(sa.text("DELETE FROM rating"))
    failed = w.run_once(manual=True)
    assert failed is not None and failed.status == "failed" and failed.trigger == "manual"
    assert failed.error is not None and "no ratings to train on" in failed.error
    assert failed.finished_at is not None and failed.version is None
    assert ModelStore(models).current() == "v0001"
    assert ModelStore(models).versions() == ["v0001"]
    assert leases.acquire(engine, "retrain", "someone else", 30)  # the lease was released


def test_a_worker_that_lost_its_lease_never_publishes(
    engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    populate(engine)
    models = tmp_path / "models"
    w = worker(engine, database_url, models)
    real = w.train

    def stolen_midway(cold: bool, before_publish: Callable[[], None]):  # type: ignore[no-untyped-def]
        with engine.begin() as conn:  # as if the lease expired and another worker took it
            conn.execute(sa.text("UPDATE worker_lease SET holder = 'intruder'"))
        return real(cold, before_publish)

    w.train = stolen_midway
    run = w.run_once(manual=True)
    assert run is not None and run.status == "failed" and "lease" in (run.error or "")
    assert ModelStore(models).current() is None  # staged, never made current


def _worker_process(database_url: str, models: Path, log: Path, *args: str) -> subprocess.Popen:  # type: ignore[type-arg]
    env = bookrec_env(
        database_url,
        models,
        SECRET,
        BOOKREC_ENV="test",
        BOOKREC_RETRAIN_AFTER_RATINGS="1",
        BOOKREC_RETRAIN_EVERY_HOURS="0",
        BOOKREC_RETRAIN_EPOCHS=str(EPOCHS),
        BOOKREC_WORKER_LEASE_SECONDS="30",
    )
    with open(log, "wb") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            [*bookrec_command(), "worker", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def test_two_workers_started_together_train_once(
    engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    populate(engine)
    models = tmp_path / "models"
    logs = [tmp_path / f"worker-{i}.log" for i in range(2)]
    processes = [_worker_process(database_url, models, log, "--once") for log in logs]
    try:
        codes = [p.wait(180) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    text = [log.read_text() for log in logs]
    assert codes == [0, 0], text
    runs = recent_runs(engine)
    assert len(runs) == 1 and runs[0].status == "published", text
    assert ModelStore(models).versions() == ["v0001"]
    assert sum("nothing trained" in t for t in text) == 1, text


def test_sigterm_abandons_the_run_and_releases_the_lease(
    engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    populate(engine)
    models = tmp_path / "models"
    log = tmp_path / "worker.log"
    process = _worker_process(database_url, models, log, "--once", "--now")
    try:
        deadline = time.monotonic() + 120
        while not recent_runs(engine) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert recent_runs(engine), log.read_text()
        process.terminate()
        code = process.wait(60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    run = recent_runs(engine)[0]
    if run.status == "published":  # it had got past the point of no return: it finished
        pytest.skip("the run reached publishing before SIGTERM arrived")
    assert code == 143, log.read_text()
    assert run.status == "failed" and run.error == "abandoned: SIGTERM"
    assert ModelStore(models).current() is None
    assert not [p for p in models.glob("*")] or ModelStore(models).versions() == []
    assert leases.holder_of(engine, "retrain") is None


def test_worker_runs_prints_the_table(
    engine: sa.Engine,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from app.cli import main
    from db.training_runs import finish_run, start_run

    run = start_run(engine, "new-ratings", "host:1:a", "warm", 7)
    finish_run(
        engine, run, "rejected-by-gate", version="v0004", gate_decision="kept v0004 but NOT current"
    )
    monkeypatch.setenv("BOOKREC_DATABASE_URL", database_url)
    main(["worker", "runs"])
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == [
        "id",
        "trigger",
        "status",
        "mode",
        "started",
        "(UTC)",
        "seconds",
        "version",
        "detail",
    ]
    assert out[2].split()[:4] == ["1", "new-ratings", "rejected-by-gate", "warm"]
    assert "v0004" in out[2] and "kept v0004 but NOT current" in out[2]


def test_a_run_left_running_by_a_dead_worker_is_marked_failed(
    engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    from db.training_runs import start_run

    start_run(engine, "schedule", "gone-host:1:x", "cold", 0)  # its worker was SIGKILLed
    w = worker(engine, database_url, tmp_path / "models")  # no trigger configured
    assert w.run_once() is None
    (run,) = recent_runs(engine)
    assert run.status == "failed" and run.finished_at is not None
    assert "abandoned" in (run.error or "")
