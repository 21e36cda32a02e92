"""The `training_run` table: every retraining attempt of `bookrec worker`, as it starts and
as it ends (each in its own short transaction, so a crash mid-training leaves a `running`
row that the next worker to take the lease marks failed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from db.models import TRAINING_STATUSES, TrainingRun

_RUNS = TrainingRun.__table__  # type: ignore[attr-defined]
ERROR_MAX_CHARS = 4000


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class Run:
    id: int
    trigger: str
    status: str
    holder: str
    mode: str | None
    new_ratings: int | None
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None
    version: str | None
    gate_decision: str | None
    error: str | None


def _run(row: sa.Row) -> Run:  # type: ignore[type-arg]
    values = row._asdict()
    values["started_at"] = _utc(values["started_at"])
    values["finished_at"] = _utc(values["finished_at"])
    return Run(**values)


def start_run(
    engine: Engine, trigger: str, holder: str, mode: str | None, new_ratings: int | None
) -> int:
    with engine.begin() as conn:
        return int(
            conn.execute(
                sa.insert(_RUNS)
                .values(
                    trigger=trigger,
                    status="running",
                    holder=holder,
                    mode=mode,
                    new_ratings=new_ratings,
                    started_at=_now(),
                )
                .returning(_RUNS.c.id)
            ).scalar_one()
        )


def finish_run(
    engine: Engine,
    run_id: int,
    status: str,
    version: str | None = None,
    gate_decision: str | None = None,
    error: str | None = None,
    mode: str | None = None,
) -> None:
    if status not in TRAINING_STATUSES or status == "running":
        raise ValueError(f"{status!r} is not a final status")
    now = _now()
    with engine.begin() as conn:
        started = _utc(
            conn.execute(sa.select(_RUNS.c.started_at).where(_RUNS.c.id == run_id)).scalar_one()
        )
        assert started is not None
        values = {
            "status": status,
            "finished_at": now,
            "duration_seconds": (now - started).total_seconds(),
            "version": version,
            "gate_decision": gate_decision,
            "error": error[:ERROR_MAX_CHARS] if error else None,
        }
        if mode is not None:
            values["mode"] = mode
        conn.execute(sa.update(_RUNS).where(_RUNS.c.id == run_id).values(**values))


def fail_abandoned_runs(engine: Engine, reason: str) -> int:
    """Mark every `running` row failed: called by the lease holder, so none of them is
    really running (their worker crashed or lost the lease)."""
    with engine.begin() as conn:
        return int(
            conn.execute(
                sa.update(_RUNS)
                .where(_RUNS.c.status == "running")
                .values(status="failed", finished_at=_now(), error=reason)
            ).rowcount
        )


def _newest(limit: int) -> sa.Select:  # type: ignore[type-arg]
    return sa.select(_RUNS).order_by(_RUNS.c.started_at.desc(), _RUNS.c.id.desc()).limit(limit)


def recent_runs(engine: Engine, limit: int = 20) -> list[Run]:
    """The newest runs first."""
    with engine.connect() as conn:
        rows = conn.execute(_newest(limit)).all()
    return [_run(row) for row in rows]


def runs_page(session: Session, limit: int) -> list[Run]:
    """The newest runs first, in the caller's unit of work (GraphQL)."""
    return [_run(row) for row in session.execute(_newest(limit)).all()]


def get_run(engine: Engine, run_id: int) -> Run | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(_RUNS).where(_RUNS.c.id == run_id)).first()
    return _run(row) if row else None


def last_started_at(engine: Engine) -> datetime | None:
    with engine.connect() as conn:
        return _utc(conn.execute(sa.select(sa.func.max(_RUNS.c.started_at))).scalar())


@dataclass(frozen=True)
class RunTotals:
    """Per (trigger, status): how many runs and their summed duration (finished ones)."""

    counts: dict[tuple[str, str], int]
    seconds: dict[tuple[str, str], float]
    last_finished: datetime | None


def run_totals(engine: Engine) -> RunTotals:
    stmt = sa.select(
        _RUNS.c.trigger,
        _RUNS.c.status,
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(_RUNS.c.duration_seconds), 0.0),
        sa.func.max(_RUNS.c.finished_at),
    ).group_by(_RUNS.c.trigger, _RUNS.c.status)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    last = [_utc(r[4]) for r in rows if r[4] is not None]
    return RunTotals(
        counts={(r[0], r[1]): int(r[2]) for r in rows},
        seconds={(r[0], r[1]): float(r[3]) for r in rows},
        last_finished=max((t for t in last if t is not None), default=None),
    )
