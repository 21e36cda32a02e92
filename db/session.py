"""Session ownership: one unit of work (one transaction) per GraphQL mutation.

A mutation's calls share one transaction, committed or rolled back whole at the end. A
query's calls each run in a short read-only transaction of their own, begun and ended
inside the same worker-thread trip: a query writes nothing, so there is nothing to keep
together, and PostgreSQL's default isolation (READ COMMITTED) gives every statement a fresh
snapshot anyway. That saves every query a trip back to a thread to end its transaction.

Database calls are blocking, so they run in worker threads; the event loop only awaits them.
A Session must not be used by two threads at once, and strawberry resolves sibling fields
concurrently, so the unit of work serialises its calls with a lock.

A transaction stays open across awaits, and its next step needs a worker thread. Threads
that wait for a database resource (a pooled connection, SQLite's write lock) must therefore
not take every thread the open transactions need to finish, or under load (more concurrent
operations than threads) nothing finishes until timeouts fire: a unit's first call, which
checks out a connection and begins, runs under one limiter; the calls of a unit that holds
its connection, commit and rollback included, run under another.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from anyio.lowlevel import RunVar
from sqlalchemy.engine import Engine
from sqlmodel import Session

from db.engine import IMMEDIATE
from db.errors import transient_sqlstate
from db.fastread import (
    FastReads,
    can_run_inline,
    has_own_connection,
    is_busy,
    make_own_connection,
)

T = TypeVar("T")
P = ParamSpec("P")

# Per event loop. Starting units wait for a connection or a lock; open units only do work.
_STARTING: RunVar[CapacityLimiter] = RunVar("bookrec_db_starting")
_OPEN: RunVar[CapacityLimiter] = RunVar("bookrec_db_open")
STARTING_THREADS = 16
# A transaction of its own (`UnitOfWork.write_apart`) rolled back by a deadlock or a
# serialisation failure is run again, at most this many times in all.
APART_ATTEMPTS = 5
OPEN_THREADS = 40
# The hot read path (db.fastread) is mostly CPU under the GIL. On SQLite a trip (a few
# indexed SELECTs answered from the page cache, then numpy and one onnxruntime run) takes
# about a millisecond and holds the GIL for most of it, so a worker thread does not take
# it off the event loop: it only makes the two fight for the GIL (each hand-off costs
# more at concurrency). At 32 concurrent recommendation requests a trip in a thread cost
# 4.3-6.2 ms of server CPU per request against 3.1-4.4 ms on the loop (three pairs of
# wrk cells taking turns), and 16 threads had cost two thirds more than 2. So on SQLite
# the trip runs on the event loop, and a trip that finds it must do slow work raises
# `Offload` before it does, to be run again in one of a few threads (so is one that
# meets a lock). PostgreSQL reads wait on the network, which threads overlap (8 is a
# judgement, not a measurement).
_FAST: RunVar[CapacityLimiter] = RunVar("bookrec_db_fast")
FAST_THREADS = {"sqlite": 2}
FAST_THREADS_DEFAULT = 8


class Offload(Exception):
    """Raised by a hot-path function running on the event loop (`FastReads.inline`) that
    finds it must do slow work (a fold-in): `read_fast` runs it again in a worker thread.
    It must not have changed anything before raising: it starts again from the start."""


def _limiter(var: RunVar[CapacityLimiter], tokens: int) -> CapacityLimiter:
    try:
        return var.get()
    except LookupError:
        limiter = CapacityLimiter(tokens)
        var.set(limiter)
        return limiter


async def read_fast(engine: Engine, fn: Callable[..., T], *args: Any) -> T:
    """Run a read-only `fn(fast_reads, *args)` in a read transaction of its own, for the
    hot read path (see db.fastread): one trip, whatever `fn` reads. On SQLite the trip runs
    on the event loop unless `fn` raises `Offload` or a lock is held (SQLITE_BUSY);
    otherwise, and then, in a worker thread."""
    dialect = engine.dialect.name
    if can_run_inline(engine):
        loop_thread = threading.get_ident()
        if not has_own_connection(engine, loop_thread):  # connecting may wait for a lock
            await anyio.to_thread.run_sync(make_own_connection, engine, loop_thread)
        try:
            return _read_fast(engine, fn, args, True)
        except Offload:
            pass
        except Exception as exc:
            if not is_busy(exc):  # a lock is waited for in a thread, never on the loop
                raise
    threads = FAST_THREADS.get(dialect, FAST_THREADS_DEFAULT)
    return await anyio.to_thread.run_sync(
        _read_fast, engine, fn, args, False, limiter=_limiter(_FAST, threads)
    )


def _read_fast(engine: Engine, fn: Callable[..., T], args: tuple[Any, ...], inline: bool) -> T:
    with FastReads.open(engine, inline) as db:
        return fn(db, *args)


class UnitOfWork:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._session: Session | None = None
        self._lock = asyncio.Lock()
        # Set before the first statement for operations that write (mutations): their calls
        # share one transaction, and SQLite takes its write lock at BEGIN instead of failing
        # to upgrade later. False (queries): each call is a read transaction of its own.
        self.writes = False

    def _get_session(self) -> Session:
        if self._session is None:
            bind = (
                self._engine.execution_options(**{IMMEDIATE: True}) if self.writes else self._engine
            )
            self._session = Session(bind, expire_on_commit=False, autoflush=True)
        return self._session

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(session, *args)` in a worker thread: inside this unit's transaction for a
        mutation, in a read transaction of its own for a query."""
        if not self.writes:
            return await self.read_apart(fn, *args)
        async with self._lock:
            limiter = (
                _limiter(_STARTING, STARTING_THREADS)
                if self._session is None
                else _limiter(_OPEN, OPEN_THREADS)
            )
            return await anyio.to_thread.run_sync(self._call, fn, args, limiter=limiter)

    async def read_apart(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a read-only `fn(session, *args)` in its own short transaction, outside this
        unit's: every read of a query, and a mutation's read that must not hold the write
        lock while it does slow work (sign-in checks a password after looking the account up)."""
        return await anyio.to_thread.run_sync(
            self._read_apart, fn, args, limiter=_limiter(_STARTING, STARTING_THREADS)
        )

    async def read_fast(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a read-only `fn(fast_reads, *args)` on the hot read path (see `read_fast`),
        outside this unit's transaction: a query's reads that must be one cheap trip."""
        return await read_fast(self._engine, fn, *args)

    @property
    def began(self) -> bool:
        """Whether this unit's own transaction has begun (a mutation wrote or read in it)."""
        return self._session is not None

    async def write_apart(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(session, *args)` in a short write transaction of its own, committed at
        once whatever this unit does later: what must be kept even if the operation fails
        (a failed sign-in counted by the throttle). Run again (bounded) if the database
        rolled it back to break a deadlock or a serialisation conflict. The caller must not
        hold this unit's transaction open: on SQLite it would wait for its own write lock."""
        return await anyio.to_thread.run_sync(
            self._write_apart, fn, args, limiter=_limiter(_STARTING, STARTING_THREADS)
        )

    def _write_apart(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        bind = self._engine.execution_options(**{IMMEDIATE: True})
        attempt = 1
        while True:
            try:
                with Session(bind, expire_on_commit=False) as session:
                    result = fn(session, *args)
                    session.commit()
                    return result
            except Exception as exc:
                if transient_sqlstate(exc) is None or attempt >= APART_ATTEMPTS:
                    raise
                attempt += 1

    def _read_apart(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        # Closing (not rolling back) ends the transaction and keeps the loaded rows usable.
        with Session(self._engine, expire_on_commit=False) as session:
            return fn(session, *args)

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        session = self._get_session()
        result = fn(session, *args)
        session.flush()
        return result

    async def commit(self) -> None:
        async with self._lock:
            if self._session is not None:
                await anyio.to_thread.run_sync(
                    self._finish, True, limiter=_limiter(_OPEN, OPEN_THREADS)
                )

    async def rollback(self) -> None:
        async with self._lock:
            if self._session is not None:
                await anyio.to_thread.run_sync(
                    self._finish, False, limiter=_limiter(_OPEN, OPEN_THREADS)
                )

    def _finish(self, commit: bool) -> None:
        assert self._session is not None
        try:
            if commit:
                self._session.commit()
            else:
                self._session.rollback()
        finally:
            self._session.close()
            self._session = None
