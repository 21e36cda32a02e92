"""Session ownership: one unit of work (one transaction) per GraphQL operation.

Database calls are blocking, so they run in worker threads; the event loop only awaits them.
A Session must not be used by two threads at once, and strawberry resolves sibling fields
concurrently, so the unit of work serialises its calls with a lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import anyio.to_thread
from sqlalchemy.engine import Engine
from sqlmodel import Session

from db.engine import IMMEDIATE

T = TypeVar("T")
P = ParamSpec("P")


class UnitOfWork:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._session: Session | None = None
        self._lock = asyncio.Lock()
        # Set before the first statement for operations that write (mutations), so that
        # SQLite takes its write lock at BEGIN instead of failing to upgrade later.
        self.writes = False

    def _get_session(self) -> Session:
        if self._session is None:
            bind = (
                self._engine.execution_options(**{IMMEDIATE: True})
                if self.writes
                else (self._engine)
            )
            self._session = Session(bind, expire_on_commit=False, autoflush=True)
        return self._session

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(session, *args)` in a worker thread inside this unit's transaction."""
        async with self._lock:
            return await anyio.to_thread.run_sync(self._call, fn, args)

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        session = self._get_session()
        result = fn(session, *args)
        session.flush()
        return result

    async def commit(self) -> None:
        async with self._lock:
            if self._session is not None:
                await anyio.to_thread.run_sync(self._finish, True)

    async def rollback(self) -> None:
        async with self._lock:
            if self._session is not None:
                await anyio.to_thread.run_sync(self._finish, False)

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
