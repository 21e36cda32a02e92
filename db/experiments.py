"""A/B experiments (`experiment`): at most one runs at a time (a UNIQUE flag), read by every
server process on each model poll, started and ended by `bookrec model experiment`."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from db.errors import Conflict, NotFound
from db.models import Experiment, utcnow

_TABLE = Experiment.__table__  # type: ignore[attr-defined]


def running_experiment(session: Session) -> Experiment | None:
    return session.exec(select(Experiment).where(Experiment.running == 1)).first()


def running_experiment_now(engine: Engine) -> Experiment | None:
    """The running experiment, read in a short transaction of its own (the servers' poll)."""
    with Session(engine, expire_on_commit=False) as session:
        return running_experiment(session)


def latest_experiment(session: Session) -> Experiment | None:
    """The running experiment, else the one that ended last."""
    return session.exec(select(Experiment).order_by(col(Experiment.id).desc())).first()


def start_experiment(
    session: Session, version: str, control_version: str | None, share: float, salt: str
) -> Experiment:
    """Conflict if one is running already (also when two start at once: the UNIQUE flag)."""
    if running_experiment(session) is not None:
        raise Conflict("An experiment is running already; stop or promote it first.")
    experiment = Experiment(
        version=version, control_version=control_version, share=share, salt=salt, running=1
    )
    session.add(experiment)
    try:
        session.flush()
    except sa.exc.IntegrityError:
        raise Conflict("An experiment is running already; stop or promote it first.") from None
    return experiment


def end_experiment(session: Session, outcome: str) -> Experiment:
    """Stop the running experiment ('stopped' or 'promoted'); NotFound if none runs."""
    experiment = running_experiment(session)
    if experiment is None:
        raise NotFound("No experiment is running.")
    experiment.running = None
    experiment.stopped_at = utcnow()
    experiment.outcome = outcome
    session.add(experiment)
    session.flush()
    return experiment
