"""Engine construction: one place that knows the per-backend connection rules."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

SQLITE_BUSY_TIMEOUT_MS = 30_000

# Execution option asking SQLite for a write lock at BEGIN: a read-then-write transaction
# that starts deferred can fail with SQLITE_BUSY when it upgrades, whatever the timeout.
IMMEDIATE = "bookrec_immediate"


def normalize_url(url: str) -> str:
    """`postgresql://` means the psycopg 3 driver (the one we install)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def is_sqlite(engine_or_url: Engine | str) -> bool:
    url = engine_or_url if isinstance(engine_or_url, str) else str(engine_or_url.url)
    return url.startswith("sqlite")


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalize_url(url)
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True, **kwargs)

    engine = sa.create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        **kwargs,
    )
    in_memory = ":memory:" in url or url.rstrip("/") == "sqlite:"

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (below); pysqlite's implicit transactions are off.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed transaction survives power loss, not only a process crash.
            cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        immediate = connection.get_execution_options().get(IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def advance_sequences(conn: sa.Connection) -> None:
    """After rows were inserted with explicit ids (imports, fixtures): PostgreSQL sequences
    do not move by themselves, and the next INSERT without an id would collide. A no-op on
    SQLite, whose INTEGER PRIMARY KEY continues from the largest id."""
    if conn.dialect.name != "postgresql":
        return
    for table in ("app_user", "book", "category"):
        conn.execute(
            sa.text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {table}"
            )
        )


def upsert_insert(dialect_name: str) -> Any:
    """The dialect's INSERT construct, which has ON CONFLICT (DO NOTHING / DO UPDATE)."""
    return postgresql.insert if dialect_name == "postgresql" else sqlite.insert
