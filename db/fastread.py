"""Reads on the per-request hot path, executed straight on the DB-API cursor.

Every recommendations request reads the reader's state and the picked books: two small
indexed SELECTs that SQLite answers in about 10 µs each. Through SQLAlchemy the same reads
cost 50 to 100 µs each (session and transaction objects, cache keys, execution contexts,
result wrapping), all of it holding the GIL that the event loop needs. So these statements
are still written with SQLAlchemy (one source of truth for tables and columns) and
compiled by it, once per dialect and IN-list length; only their execution skips it.

Only statements whose parameters and result columns need no type conversion on either
dialect qualify (integers, strings, floats): `Prepared` checks that when it compiles.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect, Engine


@dataclass(frozen=True)
class _Marker:
    """Stands for item `index` of list parameter `key` while an IN list is expanded."""

    key: str
    index: int


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # bind names, in the order a positional driver wants them
    fixed: Mapping[str, Any]  # values the statement itself carries (literals)
    slots: Mapping[str, _Marker | str]  # bind name -> list item, or a plain parameter
    positional: bool


def _converts_results(kind: sa.types.TypeEngine[Any], dialect: Dialect) -> bool:
    """Whether SQLAlchemy would convert this column's values as read. psycopg's float
    processor asks for the cursor's column type, which a statement not yet run has none
    of; a float that is not read as Decimal arrives from both drivers as a Python float."""
    try:
        return kind.dialect_impl(dialect).result_processor(dialect, None) is not None
    except TypeError:
        return not (isinstance(kind, sa.Float) and not kind.asdecimal)


class Prepared:
    """A fixed read statement, compiled on first use per dialect and list lengths."""

    def __init__(self, statement: sa.Select[Any] | sa.CompoundSelect) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, tuple[tuple[str, int], ...]], _Compiled] = {}

    def compiled(self, dialect: Dialect, params: Mapping[str, Any]) -> _Compiled:
        lists = tuple(sorted((k, len(v)) for k, v in params.items() if isinstance(v, list | tuple)))
        key = (dialect.name, lists)
        found = self._compiled.get(key)
        if found is None:
            found = self._compiled[key] = self._compile(dialect, params, lists)
        return found

    def _compile(
        self, dialect: Dialect, params: Mapping[str, Any], lists: tuple[tuple[str, int], ...]
    ) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        for column in self.statement.selected_columns:
            if _converts_results(column.type, dialect):
                raise TypeError(f"column {column.key!r} needs conversion: not for Prepared")
        for bind in compiled.binds.values():
            if bind.type.dialect_impl(dialect).bind_processor(dialect) is not None:
                raise TypeError(f"parameter {bind.key!r} needs conversion: not for Prepared")
        sample: dict[str, Any] = {
            k: v for k, v in params.items() if not isinstance(v, list | tuple)
        }
        sample.update({k: [_Marker(k, i) for i in range(n)] for k, n in lists})
        state = compiled.construct_expanded_state(sample)
        names = tuple(state.positiontup or state.parameters)
        slots: dict[str, _Marker | str] = {}
        fixed: dict[str, Any] = {}
        for name in names:
            value = state.parameters[name]
            if isinstance(value, _Marker):
                slots[name] = value
            elif name in params:
                slots[name] = name
            else:
                fixed[name] = value
        return _Compiled(state.statement, names, fixed, slots, bool(state.positiontup))

    def arguments(self, compiled: _Compiled, params: Mapping[str, Any]) -> Any:
        values: dict[str, Any] = dict(compiled.fixed)
        for name, slot in compiled.slots.items():
            values[name] = (
                params[slot.key][slot.index] if isinstance(slot, _Marker) else params[slot]
            )
        if compiled.positional:
            return tuple(values[name] for name in compiled.names)
        return values


class FastReads:
    """A DB-API connection inside a read transaction, running `Prepared` statements.
    `inline`: the trip runs on the event loop (see `db.session.read_fast`), so a function
    that would do slow work must raise `db.session.Offload` first."""

    def __init__(self, dbapi_connection: Any, dialect: Dialect, inline: bool = False) -> None:
        self._connection = dbapi_connection
        self.dialect = dialect
        self.inline = inline

    def rows(self, prepared: Prepared, **params: Any) -> list[tuple[Any, ...]]:
        compiled = prepared.compiled(self.dialect, params)
        cursor = self._connection.cursor()
        try:
            cursor.execute(compiled.sql, prepared.arguments(compiled, params))
            return list(cursor.fetchall())
        finally:
            cursor.close()

    @classmethod
    @contextlib.contextmanager
    def open(cls, engine: Engine, inline: bool = False) -> Iterator[FastReads]:
        """A connection in a read transaction, rolled back at the end: a pooled one, or
        with `inline` (SQLite only) this thread's own (see `_own_connection`)."""
        if inline:
            with _own_connection(engine) as driver:
                yield cls(driver, engine.dialect, inline=True)
            return
        connection = engine.raw_connection()
        driver = connection.driver_connection
        try:
            if engine.dialect.name == "sqlite":  # autobegin is off (see db.engine)
                driver.execute("BEGIN")  # type: ignore[union-attr]
            yield cls(driver, engine.dialect)
        except BaseException as exc:
            # A connection the server dropped (a restart, a terminated backend) is thrown
            # away, not returned: the pool's rollback on return would fail on it and log a
            # traceback. (SQLAlchemy does the same for a Session's connection.)
            if getattr(driver, "broken", False) or getattr(driver, "closed", False):
                connection.invalidate(exc if isinstance(exc, Exception) else None)
            raise
        finally:
            connection.close()  # the pool rolls back on return


# Trips on the event loop (SQLite): one connection per engine and thread, made by a pool of
# their own (the engine's pool recreated: the same creator and connect hooks) and detached
# from it. Such trips never overlap on one thread (they do not await), and a trip must not
# wait for the engine's pool: when writers hold every pooled connection (a burst of
# mutations waiting for SQLite's write lock), a checkout on the event loop would stall
# every request, not only its own.
@dataclass
class _Own:
    pool: sa.pool.Pool
    by_thread: dict[int, Any]


_OWN: weakref.WeakKeyDictionary[Engine, _Own] = weakref.WeakKeyDictionary()
_OWN_LOCK = threading.Lock()


def is_busy(exc: BaseException) -> bool:
    """Whether this is SQLite's SQLITE_BUSY (a lock another connection holds), any variant."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.OperationalError) and code is not None and code & 0xFF == 5


def can_run_inline(engine: Engine) -> bool:
    """Whether trips may run on the event loop: a SQLite database in a file (an in-memory
    one is a different database on every connection)."""
    database = engine.url.database
    return engine.dialect.name == "sqlite" and database not in (None, "", ":memory:")


def has_own_connection(engine: Engine, thread: int) -> bool:
    """Whether `thread` has its connection for trips on the loop (see `make_own_connection`)."""
    own = _OWN.get(engine)
    return own is not None and thread in own.by_thread


def make_own_connection(engine: Engine, thread: int) -> None:
    """Blocking (call it from a worker thread: connecting may wait for a lock): the
    connection that `thread`'s trips on the loop will use."""
    if not can_run_inline(engine):
        raise ValueError("trips on the event loop are for a SQLite database in a file")
    with _OWN_LOCK:
        own = _OWN.get(engine)
        if own is None:
            own = _OWN[engine] = _Own(engine.pool.recreate(), {})
            if not sa.event.contains(engine, "engine_disposed", _close_own):
                sa.event.listen(engine, "engine_disposed", _close_own)
        if thread in own.by_thread:
            return
        pooled = own.pool.connect()  # the connect hooks ran: foreign keys, WAL
        driver: Any = pooled.driver_connection
        pooled.detach()  # never checked back in: closed with the engine
        # Never wait for a lock on the loop (readers of a WAL database rarely meet one:
        # recovery, another process in exclusive locking mode): SQLITE_BUSY at once, and
        # `db.session.read_fast` runs the trip in a thread, which waits as every reader does.
        driver.execute("PRAGMA busy_timeout=0")
        own.by_thread[thread] = driver


@contextlib.contextmanager
def _own_connection(engine: Engine) -> Iterator[Any]:
    own, ident = _OWN.get(engine), threading.get_ident()
    driver: Any = None if own is None else own.by_thread.get(ident)
    if own is None or driver is None:
        raise RuntimeError("no connection of this thread's own: make_own_connection first")
    try:
        driver.execute("BEGIN")  # autobegin is off (see db.engine)
        yield driver
    except BaseException:
        # A connection SQLite gave up on is closed and replaced (by the next read_fast).
        if not _usable(driver):
            own.by_thread.pop(ident, None)
            with contextlib.suppress(Exception):
                driver.close()
        raise
    finally:
        if _usable(driver) and driver.in_transaction:
            driver.rollback()  # ends the read (a read left open would hold back checkpoints)


def _usable(driver: Any) -> bool:
    try:
        driver.total_changes  # noqa: B018  # raises once the connection is closed
    except Exception:
        return False
    return True


def _close_own(engine: Engine) -> None:
    own = _OWN.pop(engine, None)
    if own is None:
        return
    for driver in own.by_thread.values():
        with contextlib.suppress(Exception):
            driver.close()
    own.pool.dispose()
