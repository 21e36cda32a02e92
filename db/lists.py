"""Served lists (`rec_list`, `rec_list_item`): written in batches, read back to continue one;
the books opened from them (`rec_list_open`); pruning old ones.

Writes come from `recommend.lists.ListRecorder`, off the request path; a continuation reads
its list on the fast path (db.fastread), in the recommendation trip."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
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
    sa.select(_ITEMS.c.position, _ITEMS.c.book_id).where(
        _ITEMS.c.list_id == sa.bindparam("id", type_=sa.String())
    )
)


def list_header(db: FastReads, list_id: str) -> dict[str, Any] | None:
    """What a stored list was asked for (the `LIST_COLUMNS`), or None if it is not stored."""
    rows = db.rows(_HEADER, id=list_id)
    return dict(zip(LIST_COLUMNS, rows[0], strict=True)) if rows else None


def shown_books(db: FastReads, list_id: str) -> list[tuple[int, int]]:
    """(position, book id) of every stored position of a list."""
    return [(int(p), int(b)) for p, b in db.rows(_SHOWN, id=list_id)]


def write_lists(
    engine: Engine, lists: Sequence[dict[str, Any]], items: Sequence[dict[str, Any]]
) -> None:
    """One transaction: new list headers (a continuation's header is already there) and
    their items. Raises on any failure, writing nothing (the caller decides what to keep)."""
    if not lists and not items:
        return
    insert = upsert_insert(engine.dialect.name)
    with engine.execution_options(**{IMMEDIATE: True}).begin() as conn:
        if lists:
            conn.execute(insert(_LISTS).on_conflict_do_nothing(index_elements=["id"]), list(lists))
        if items:
            conn.execute(
                insert(_ITEMS).on_conflict_do_nothing(index_elements=["list_id", "position"]),
                list(items),
            )


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
