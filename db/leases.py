"""Named leases in the database: the lock that keeps two retraining workers from training
at once, on SQLite and PostgreSQL alike.

A lease is a row (name, holder, expires_at). Taking it is ONE statement, an INSERT that on
conflict updates the row only if it expired or is already ours; the row comes back only
when we hold it, so of two workers racing exactly one wins (the database serialises the two
writes to the primary key). The holder renews it while it works; a crashed holder stops
renewing and the lease expires. Times are the callers' clocks (UTC): hosts sharing a lease
need clocks in step to well within its duration (NTP does it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from db.engine import IMMEDIATE, upsert_insert
from db.models import WorkerLease

_LEASE = WorkerLease.__table__  # type: ignore[attr-defined]


def _now() -> datetime:
    return datetime.now(UTC)


def acquire(engine: Engine, name: str, holder: str, seconds: float) -> bool:
    """Take (or extend) the lease `name` for `holder` for `seconds`; False if another
    holder has it and it has not expired."""
    now = _now()
    stmt = upsert_insert(engine.dialect.name)(_LEASE).values(
        name=name, holder=holder, expires_at=now + timedelta(seconds=seconds)
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"],
        set_={"holder": stmt.excluded.holder, "expires_at": stmt.excluded.expires_at},
        where=(_LEASE.c.expires_at < now) | (_LEASE.c.holder == holder),
    ).returning(_LEASE.c.holder)
    with engine.connect().execution_options(**{IMMEDIATE: True}) as conn, conn.begin():
        return conn.execute(stmt).first() is not None


def renew(engine: Engine, name: str, holder: str, seconds: float) -> bool:
    """Extend our lease; False if it is no longer ours (it expired and another took it)."""
    stmt = (
        sa.update(_LEASE)
        .where(_LEASE.c.name == name, _LEASE.c.holder == holder)
        .values(expires_at=_now() + timedelta(seconds=seconds))
    )
    with engine.begin() as conn:
        return conn.execute(stmt).rowcount == 1


def release(engine: Engine, name: str, holder: str) -> None:
    """Give the lease up at once (nothing happens if it is not ours)."""
    with engine.begin() as conn:
        conn.execute(sa.delete(_LEASE).where(_LEASE.c.name == name, _LEASE.c.holder == holder))


def holder_of(engine: Engine, name: str) -> tuple[str, datetime] | None:
    """Who holds `name` and until when (an expired row may still be there)."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(_LEASE.c.holder, _LEASE.c.expires_at).where(_LEASE.c.name == name)
        ).first()
    return (row[0], row[1]) if row else None
