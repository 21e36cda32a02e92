"""The sign-in throttle's counts (`login_throttle`): one row per attempted username key,
shared by every server process and host that uses the database.

An attempt is counted as failed *before* its password is checked, by one atomic statement
(INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING) that also refuses it once the
budget is spent: many concurrent attempts, on any number of processes, get exactly
`max_failures` password checks per window. PostgreSQL serialises the statements on the
row's lock (READ COMMITTED re-checks the WHERE on the latest row version); SQLite runs the
transaction under BEGIN IMMEDIATE (the caller's session). A success deletes the row.

The window is fixed: it starts at the first failure counted and lasts `lockout_seconds`;
within it at most `max_failures` attempts are checked, after it the count starts again.
Times are the database's clock, so hosts with drifting clocks agree.
"""

from __future__ import annotations

import hashlib
import math

import sqlalchemy as sa
from sqlmodel import Session

from db.engine import upsert_insert
from db.models import LoginThrottle

_THROTTLE = LoginThrottle.__table__  # type: ignore[attr-defined]


def throttle_key(username_key: str) -> str:
    """The row's key: a digest, so that its size is bounded whatever name was tried and
    the names tried for accounts that do not exist are not kept."""
    return hashlib.sha256(username_key.encode("utf-8", "surrogatepass")).hexdigest()


def database_now(dialect_name: str) -> sa.ColumnElement[float]:
    """Seconds since the Unix epoch, as the database's clock says."""
    if dialect_name == "postgresql":
        return sa.cast(sa.func.extract("epoch", sa.func.clock_timestamp()), sa.Float())  # type: ignore[return-value]
    # SQLite: 'now' is fixed for the whole statement; julianday has millisecond precision.
    return sa.literal_column("((julianday('now') - 2440587.5) * 86400.0)", sa.Float())


def reserve_failure(
    session: Session, username_key: str, max_failures: int, lockout_seconds: float
) -> int | None:
    """Count one failed attempt up front for this username key. None if the attempt may go
    on (its password may be checked); otherwise the whole seconds until the window ends."""
    dialect = session.get_bind().dialect.name
    now = database_now(dialect)
    key = throttle_key(username_key)
    table = _THROTTLE
    expired = table.c.window_start <= now - lockout_seconds
    stmt = upsert_insert(dialect)(table).values(key=key, failures=1, window_start=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=["key"],
        set_={
            "failures": sa.case((expired, 1), else_=table.c.failures + 1),
            "window_start": sa.case((expired, now), else_=table.c.window_start),
        },
        where=sa.or_(table.c.failures < max_failures, expired),
    ).returning(table.c.failures)
    if session.execute(stmt).first() is not None:
        return None
    # Refused: the row is this transaction's (locked) until it ends, so it is still there.
    row = session.execute(
        sa.select(table.c.window_start + lockout_seconds - now).where(table.c.key == key)
    ).one()
    return max(1, math.ceil(float(row[0])))


def clear(session: Session, username_key: str) -> None:
    """A successful sign-in (or password check): the account's count starts again."""
    session.execute(sa.delete(_THROTTLE).where(_THROTTLE.c.key == throttle_key(username_key)))


def failures(session: Session, username_key: str) -> int:
    """The failures counted in the current row (0 if none): for tests and operators."""
    found = session.execute(
        sa.select(_THROTTLE.c.failures).where(_THROTTLE.c.key == throttle_key(username_key))
    ).scalar()
    return int(found or 0)


def prune(session: Session, lockout_seconds: float) -> int:
    """Delete the rows whose window has passed (they no longer refuse anything); how many.
    Storage stays bounded by the attempts of one window, whatever names are tried."""
    now = database_now(session.get_bind().dialect.name)
    result = session.execute(
        sa.delete(_THROTTLE).where(_THROTTLE.c.window_start <= now - lockout_seconds)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
