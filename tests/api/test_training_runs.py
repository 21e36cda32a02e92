"""Query.trainingRuns: what `bookrec worker` recorded, newest first, for staff only."""

from __future__ import annotations

import sqlalchemy as sa

from db.training_runs import finish_run, start_run
from tests.support.api import api_for, make_staff

RUNS = (
    "query($n: Int) { trainingRuns(first: $n) { id trigger status startedAt finishedAt"
    " durationSeconds version gateDecision error } }"
)


def record_runs(engine: sa.Engine) -> None:
    first = start_run(engine, "schedule", "host:1:a", "cold", 0)
    finish_run(engine, first, "published", version="v0001", gate_decision="published v0001")
    second = start_run(engine, "new-ratings", "host:1:a", "warm", 12)
    finish_run(engine, second, "failed", error="ValueError: no ratings to train on")
    start_run(engine, "manual", "host:2:b", None, 3)


async def test_staff_read_the_runs_newest_first(engine: sa.Engine, database_url: str) -> None:
    record_runs(engine)
    async with api_for(engine, database_url) as api:
        token = await api.register("boss")
        make_staff(engine, "boss")
        runs = (await api.ok(RUNS, {"n": 20}, token=token))["trainingRuns"]
        assert [r["trigger"] for r in runs] == ["manual", "new-ratings", "schedule"]
        running, failed, published = runs
        assert running["status"] == "running" and running["finishedAt"] is None
        assert running["durationSeconds"] is None
        assert failed["status"] == "failed" and failed["error"].startswith("ValueError")
        assert failed["durationSeconds"] >= 0 and failed["finishedAt"] is not None
        assert published["version"] == "v0001"
        assert published["gateDecision"] == "published v0001"
        assert published["startedAt"].endswith("+00:00")
        assert len((await api.ok(RUNS, {"n": 1}, token=token))["trainingRuns"]) == 1


async def test_readers_and_anonymous_callers_are_refused(
    engine: sa.Engine, database_url: str
) -> None:
    record_runs(engine)
    async with api_for(engine, database_url) as api:
        reader = await api.register("reader")
        assert (await api.error(RUNS, token=reader))["extensions"]["code"] == "FORBIDDEN"
        assert (await api.error(RUNS))["extensions"]["code"] == "UNAUTHENTICATED"
        boss = await api.register("boss")
        make_staff(engine, "boss")
        for bad in (0, 101, -1):
            error = await api.error(RUNS, {"n": bad}, token=boss)
            assert error["extensions"]["code"] == "BAD_USER_INPUT"
