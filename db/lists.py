"""Served lists (`rec_list`, `rec_list_item`): written in batches, read back to continue one;
the books opened from them (`rec_list_open`); pruning old ones.

Writes come from `recommend.lists.ListRecorder`, off the request path; a continuation reads
its list on the fast path (db.fastread), in the recommendation trip."""

from __future__ import annotations

import operator
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect, Engine
from sqlmodel import Session

from db.engine import IMMEDIATE, upsert_insert
from db.errors import InvalidInput
from db.fastread import FastReads, Prepared
from db.models import RecList, RecListItem, RecListOpen, utcnow

_LISTS = RecList.__table__  # type: ignore[attr-defined]
_ITEMS = RecListItem.__table__  # type: ignore[attr-defined]
LIST_COLUMNS = ("user_id", "kind", "anchor_book_id", "category_id", "diversity")

_HEADER = Prepared(
    sa.select(*(_LISTS.c[name] for name in LIST_COLUMNS)).where(
        _LISTS.c.id == sa.bindparam("id", type_=sa.String())
    )
)
_SHOWN = Prepared(
    sa.select(_ITEMS.c.position, _ITEMS.c.book_id)
    .where(
        _ITEMS.c.list_id == sa.bindparam("id", type_=sa.String()),
        _ITEMS.c.position >= sa.bindparam("start", type_=sa.Integer()),
    )
    .order_by(_ITEMS.c.position)  # the primary key's order: a range of it, no sort
)


def list_header(db: FastReads, list_id: str) -> dict[str, Any] | None:
    """What a stored list was asked for (the `LIST_COLUMNS`), or None if it is not stored."""
    rows = db.rows(_HEADER, id=list_id)
    return dict(zip(LIST_COLUMNS, rows[0], strict=True)) if rows else None


def shown_books(db: FastReads, list_id: str, start: int = 0) -> list[tuple[int, int]]:
    """(position, book id) of the stored positions of a list from `start` on, in order."""
    return db.rows(_SHOWN, id=list_id, start=start)  # integers from both drivers


class ShownBooks:
    """The books continued lists have shown, each stored position read from the database
    once.

    A stored position never changes (written once, ON CONFLICT DO NOTHING; a list is pruned
    whole, its header with it), so once a list's positions 0..n-1 have all been read they are kept
    here, and its next continuation reads only the positions from n on: a range of the
    primary key, where reading the whole list again grew with every page a reader scrolled.
    Positions read past a gap (one still being written by another server) are returned but
    not kept, so a later read fills the gap in. At most `max_books` positions are kept, the
    lists continued longest ago dropped first (8 bytes each)."""

    def __init__(self, max_books: int = 2_000_000) -> None:
        self._kept: OrderedDict[str, array[int]] = OrderedDict()
        self._books = 0
        self._max_books = max_books
        self._lock = threading.Lock()

    def read(self, db: FastReads, list_id: str) -> tuple[list[int], list[tuple[int, int]]]:
        """(books at positions 0..n-1, in order; (position, book) of those stored after a
        missing position, in order): every stored position of the list."""
        with self._lock:
            kept = self._kept.get(list_id)
            if kept is not None:
                self._kept.move_to_end(list_id)
        start = len(kept) if kept is not None else 0
        rows = shown_books(db, list_id, start)
        n = 0  # rows[:n] continue the kept positions without a gap
        while n < len(rows) and rows[n][0] == start + n:
            n += 1
        if n:  # only positions are kept (a list with none stored yet is not)
            kept = array("q", kept or ())
            kept.extend([book for _, book in rows[:n]])
            self._keep(list_id, kept)
        return (kept.tolist() if kept is not None else []), rows[n:]

    def _keep(self, list_id: str, books: array[int]) -> None:
        with self._lock:
            old = self._kept.get(list_id)
            if old is not None:
                if len(old) >= len(books):  # a concurrent read kept as many: keep that one
                    return
                self._books -= len(old)
            self._kept[list_id] = books
            self._kept.move_to_end(list_id)
            self._books += len(books)
            while self._books > self._max_books and self._kept:
                _, dropped = self._kept.popitem(last=False)
                self._books -= len(dropped)

    def __len__(self) -> int:
        return len(self._kept)


def write_lists(
    engine: Engine, lists: Sequence[dict[str, Any]], items: Sequence[dict[str, Any]]
) -> None:
    """One transaction: new list headers (a continuation's header is already there) and
    their items (all rows of a table with the same columns). Raises on any failure,
    writing nothing (the caller decides what to keep)."""
    if not lists and not items:
        return
    with engine.execution_options(**{IMMEDIATE: True}).begin() as conn:
        for table, conflict, rows in ((_LISTS, ("id",), lists), (_ITEMS, _ITEM_KEY, items)):
            start = 0
            for size in _ROWS_PER_STATEMENT:  # the largest statements first
                while len(rows) - start >= size:
                    insert = _bulk_insert(conn.dialect, table, conflict, rows[0], size)
                    conn.exec_driver_sql(insert.sql, insert.values(rows[start : start + size]))
                    start += size


_ITEM_KEY = ("list_id", "position")
# Rows per INSERT: a batch is written as a few statements of many rows each, not as a
# statement per row. On SQLite a statement per row (the driver's executemany) handed the GIL
# back and forth with the serving thread at every row, some 3,000 times per flush at full
# load. 100 rows of a list header's 9 columns stay under SQLite's historical limit of 999
# parameters; any batch is a sum of these sizes, largest first (at most 4 statements
# compiled per table and column set).
_ROWS_PER_STATEMENT = (100, 25, 5, 1)


@dataclass(frozen=True)
class _BulkInsert:
    """INSERT ... VALUES (...), (...) ... ON CONFLICT DO NOTHING of `rows` rows.

    A flush writes some ten rows per list served, and SQLAlchemy's per-row parameter
    handling (a dict walked per row, every value through its type's processor) took about
    as much CPU as the database's own work: here a row's values are put in the statement's
    order directly, and a processed value (a page's time, shared by its ten rows) is
    processed once per batch, by the column type's own processor."""

    sql: str
    rows: int
    columns: tuple[str, ...]  # a row's values, read in this order
    slots: tuple[tuple[int, int], ...]  # per parameter, in order: (row, column index)
    names: tuple[str, ...]  # the parameters' names (for a driver that takes them by name)
    positional: bool
    processors: tuple[Callable[[Any], Any] | None, ...]  # per column

    def values(self, rows: Sequence[dict[str, Any]]) -> tuple[Any, ...] | dict[str, Any]:
        if len(rows) != self.rows:
            raise ValueError(f"this insert takes {self.rows} rows, not {len(rows)}")
        columns = self.columns  # a row without one of them: KeyError
        read = operator.itemgetter(*columns) if len(columns) > 1 else lambda r: (r[columns[0]],)
        processed: list[tuple[int, Callable[[Any], Any], dict[Any, Any]]] = [
            (i, p, {}) for i, p in enumerate(self.processors) if p is not None
        ]
        table: list[Sequence[Any]] = []
        for row in rows:
            values = read(row)
            if processed:
                values = list(values)
                for i, process, seen in processed:
                    value = values[i]
                    if value is not None:
                        found = seen.get(value, _MISSING)
                        if found is _MISSING:
                            found = seen[value] = process(value)
                        values[i] = found
            table.append(values)
        flat = tuple(table[r][c] for r, c in self.slots)
        return flat if self.positional else dict(zip(self.names, flat, strict=True))


_MISSING = object()
_BULK: dict[tuple[str, str, frozenset[str], int], _BulkInsert] = {}


def _bulk_insert(
    dialect: Dialect, table: sa.Table, conflict: Sequence[str], given: Iterable[str], rows: int
) -> _BulkInsert:
    """The insert of `rows` rows of the columns `given` (those of the batch's first row, as
    SQLAlchemy does: a column left out gets its server default)."""
    key = (dialect.name, table.name, frozenset(given), rows)
    found = _BULK.get(key)
    if found is None:
        unknown = key[2] - set(table.c.keys())
        if unknown:
            raise ValueError(f"{table.name} has no column {', '.join(sorted(unknown))}")
        columns = tuple(c.name for c in table.columns if c.name in key[2])
        statement = (
            upsert_insert(dialect.name)(table)
            .values(
                [
                    {
                        name: sa.bindparam(f"{name}__{r}", type_=table.c[name].type)
                        for name in columns
                    }
                    for r in range(rows)
                ]
            )
            .on_conflict_do_nothing(index_elements=list(conflict))
        )
        compiled = statement.compile(dialect=dialect)
        names = tuple(compiled.positiontup or ()) if compiled.positional else tuple(compiled.binds)
        slots = []
        for name in names:
            column, _, row = compiled.binds[name].key.rpartition("__")
            slots.append((int(row), columns.index(column)))
        processors = tuple(
            table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns
        )
        found = _BULK[key] = _BulkInsert(
            str(compiled), rows, columns, tuple(slots), names, compiled.positional, processors
        )
    return found


# --- opens (openBook) --------------------------------------------------------------------

_OPENS = RecListOpen.__table__  # type: ignore[attr-defined]


def list_owner(session: Session, list_id: str) -> tuple[bool, int | None]:
    """(whether the list is stored, the reader it was served to: None for anonymous)."""
    row = session.execute(sa.select(_LISTS.c.user_id).where(_LISTS.c.id == list_id)).first()
    return (False, None) if row is None else (True, row[0])


def record_open(session: Session, list_id: str, book_id: int, user_id: int | None) -> bool:
    """Store that `book_id` was opened from the stored list `list_id` (the caller checked
    who may say so). True if recorded now, False if this open was already recorded;
    InvalidInput if the list never showed that book."""
    position = session.execute(
        sa.select(sa.func.min(_ITEMS.c.position)).where(
            _ITEMS.c.list_id == list_id, _ITEMS.c.book_id == book_id
        )
    ).scalar()
    if position is None:
        raise InvalidInput(f"List {list_id} did not show book {book_id}.")
    insert = upsert_insert(session.get_bind().dialect.name)
    result = session.execute(
        insert(_OPENS)
        .values(
            list_id=list_id,
            book_id=book_id,
            position=int(position),
            user_id=user_id,
            opened_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["list_id", "book_id"])
        .returning(_OPENS.c.list_id)  # a row only if inserted (rowcount is not portable)
    )
    return result.first() is not None


# --- retention ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Pruned:
    lists: int = 0
    items: int = 0
    opens: int = 0


def prune_lists(engine: Engine, before: datetime, batch: int = 2_000) -> Pruned:
    """Delete the lists served before `before`, with their items and opens: `batch` lists
    per transaction, so that no transaction holds locks (or SQLite's write lock) for long."""
    total = Pruned()
    while True:
        with engine.execution_options(**{IMMEDIATE: True}).begin() as conn:
            ids = [
                row[0]
                for row in conn.execute(
                    sa.select(_LISTS.c.id).where(_LISTS.c.created_at < before).limit(batch)
                )
            ]
            if not ids:
                return total
            opens = conn.execute(sa.delete(_OPENS).where(_OPENS.c.list_id.in_(ids))).rowcount
            items = conn.execute(sa.delete(_ITEMS).where(_ITEMS.c.list_id.in_(ids))).rowcount
            lists = conn.execute(sa.delete(_LISTS).where(_LISTS.c.id.in_(ids))).rowcount
        total = Pruned(total.lists + lists, total.items + items, total.opens + opens)
