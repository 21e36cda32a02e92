"""Hot-path trips on the event loop (db.session.read_fast): on SQLite a trip runs on the
calling thread with a connection of its own, outside the pool, and ends its read; a trip
that raises `Offload` runs again in a worker thread; PostgreSQL trips always go to one."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from db import readers
from db.engine import make_engine
from db.fastread import FastReads, can_run_inline
from db.models import User
from db.schema_setup import upgrade
from db.session import Offload, read_fast


def _add_reader(engine: sa.Engine) -> sa.Engine:
    with Session(engine) as session:
        session.add(User(id=1, username="ann", username_key="ann"))
        session.commit()
    return engine


@pytest.fixture
def reader(engine: sa.Engine) -> sa.Engine:
    """On each backend."""
    return _add_reader(engine)


@pytest.fixture
def sqlite_reader(tmp_path) -> Iterator[sa.Engine]:  # type: ignore[no-untyped-def]
    """What runs on the loop: SQLite only, whatever the backends under test."""
    url = f"sqlite:///{tmp_path / 'inline.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield _add_reader(engine)
    engine.dispose()


def _where(db: FastReads) -> tuple[int, bool, object]:
    return threading.get_ident(), db.inline, readers.reader_state(db, 1)


async def test_sqlite_trips_run_on_the_loop_and_postgresql_ones_in_a_thread(
    reader: sa.Engine,
) -> None:
    thread, inline, state = await read_fast(reader, _where)
    assert state is not None
    on_loop = thread == threading.get_ident()
    assert on_loop == inline == (reader.dialect.name == "sqlite")


async def test_a_trip_that_offloads_runs_again_in_a_thread(reader: sa.Engine) -> None:
    calls: list[tuple[int, bool]] = []

    def slow_unless_in_a_thread(db: FastReads) -> str:
        calls.append((threading.get_ident(), db.inline))
        if db.inline:
            raise Offload
        return "done"

    assert await read_fast(reader, slow_unless_in_a_thread) == "done"
    loop = threading.get_ident()
    if reader.dialect.name == "sqlite":
        assert calls[0] == (loop, True)
        assert len(calls) == 2
    assert calls[-1][0] != loop and calls[-1][1] is False


def test_only_a_sqlite_file_runs_inline(tmp_path) -> None:  # type: ignore[no-untyped-def]
    in_memory, in_file = make_engine("sqlite://"), make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        assert not can_run_inline(in_memory)
        assert can_run_inline(in_file)
    finally:
        in_memory.dispose()
        in_file.dispose()


async def test_an_inline_trip_does_not_wait_for_the_pool(
    sqlite_reader: sa.Engine, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """Writers holding every pooled connection (waiting for SQLite's write lock) must not
    stall the event loop: the inline trip has a connection of its own."""
    url = str(sqlite_reader.url)
    small = make_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.5)
    try:
        held = small.connect()  # the pool's only connection
        try:
            for _ in range(3):
                _, inline, state = await read_fast(small, _where)
                assert inline and state is not None
        finally:
            held.close()
    finally:
        small.dispose()


async def test_an_inline_trip_ends_its_read_so_checkpoints_complete(
    sqlite_reader: sa.Engine,
) -> None:
    await read_fast(sqlite_reader, _where)
    with sqlite_reader.begin() as conn:
        conn.execute(
            sa.text("UPDATE app_user SET username = 'ann2', username_key = 'ann2' WHERE id = 1")
        )
    path = sqlite_reader.url.database
    assert path
    other = sqlite3.connect(path)
    try:
        busy, _log, _done = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        other.close()
    assert busy == 0  # no reader left holding a snapshot
    _, _, state = await read_fast(sqlite_reader, _where)
    assert state is not None


async def test_a_failed_inline_trip_rolls_back_and_the_next_one_works(
    sqlite_reader: sa.Engine,
) -> None:
    def fails(db: FastReads) -> None:
        readers.reader_state(db, 1)
        raise ValueError("a bug in the trip")

    with pytest.raises(ValueError, match="a bug"):
        await read_fast(sqlite_reader, fails)
    _, inline, state = await read_fast(sqlite_reader, _where)
    assert inline and state is not None


async def test_disposing_the_engine_closes_its_inline_connections(
    sqlite_reader: sa.Engine,
) -> None:
    seen: list[object] = []

    def grab(db: FastReads) -> None:
        seen.append(db._connection)

    await read_fast(sqlite_reader, grab)
    sqlite_reader.dispose()
    driver = seen[0]
    assert isinstance(driver, sqlite3.Connection)
    with pytest.raises(sqlite3.ProgrammingError):
        driver.execute("SELECT 1")
    # The engine still works after dispose (a new connection is made on the next trip).
    await read_fast(sqlite_reader, grab)
    assert seen[1] is not driver


async def test_connecting_under_a_lock_does_not_block_the_loop(sqlite_reader: sa.Engine) -> None:
    """Another process holds SQLite's lock (exclusive locking mode, which it can only take
    while no other connection is open) when the loop's first trip needs its connection:
    connecting waits for the lock in a thread, while the event loop goes on serving."""
    sqlite_reader.dispose()  # no connection open: the holder can take the lock
    path = sqlite_reader.url.database
    assert path
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("UPDATE app_user SET is_staff = is_staff WHERE id = 1")
    release = threading.Timer(0.5, lambda: (holder.execute("COMMIT"), holder.close()))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    release.start()
    ticking = asyncio.create_task(ticker())
    try:
        _, _, state = await read_fast(sqlite_reader, _where)
    finally:
        ticking.cancel()
        release.join()
    assert state is not None
    assert ticks >= 10  # the loop ran while the connection waited for the lock
    _, inline, _ = await read_fast(sqlite_reader, _where)
    assert inline


async def test_a_trip_that_meets_a_lock_runs_again_in_a_thread(sqlite_reader: sa.Engine) -> None:
    """A trip on the loop never waits for a lock (its connection's busy timeout is 0): on
    SQLITE_BUSY it is run again in a thread, whose connection waits as any reader's does."""
    calls: list[bool] = []

    def busy_on_the_loop(db: FastReads) -> str:
        calls.append(db.inline)
        if db.inline:
            error = sqlite3.OperationalError("database is locked")
            error.sqlite_errorcode = sqlite3.SQLITE_BUSY  # type: ignore[attr-defined]
            raise error
        return "read"

    assert await read_fast(sqlite_reader, busy_on_the_loop) == "read"
    assert calls == [True, False]

    def fails_otherwise(db: FastReads) -> None:
        raise sqlite3.OperationalError("no such table: nothing")  # not a lock: raised

    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        await read_fast(sqlite_reader, fails_otherwise)
    with FastReads.open(sqlite_reader, inline=False) as db:
        timeout = db._connection.execute("PRAGMA busy_timeout").fetchone()[0]
    assert timeout > 0  # the pool's connections still wait for locks
