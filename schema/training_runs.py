"""Query.trainingRuns (staff only): what `bookrec worker` did, newest first."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from db import training_runs
from schema.context import Context
from schema.pagination import check_first


@strawberry.type(description="One retraining attempt of `bookrec worker`.")
class TrainingRun:
    id: strawberry.ID
    trigger: str = strawberry.field(description="schedule, new-ratings or manual.")
    status: str = strawberry.field(description="running, published, rejected-by-gate or failed.")
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None
    version: str | None = strawberry.field(description="The version it trained, if any.")
    gate_decision: str | None = strawberry.field(description="The promotion gate's reason.")
    error: str | None = strawberry.field(description="Why a failed run failed.")

    @classmethod
    def from_run(cls, run: training_runs.Run) -> TrainingRun:
        return cls(
            id=strawberry.ID(str(run.id)),
            trigger=run.trigger,
            status=run.status,
            started_at=run.started_at,
            finished_at=run.finished_at,
            duration_seconds=run.duration_seconds,
            version=run.version,
            gate_decision=run.gate_decision,
            error=run.error,
        )


async def resolve_training_runs(info: Info[Context, None], first: int) -> list[TrainingRun]:
    await info.context.require_staff()
    limit = check_first(first)
    runs = await info.context.db(training_runs.runs_page, limit)
    return [TrainingRun.from_run(run) for run in runs]
