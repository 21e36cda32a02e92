"""Served lists (`rec_list`, `rec_list_item`): written in batches, read back to continue one.

Writes come from `recommend.lists.ListRecorder`, off the request path; a continuation reads
its list on the fast path (db.fastread), in the recommendation trip."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from db.engine import IMMEDIATE, upsert_insert
from db.fastread import FastReads, Prepared
from db.models import RecList, RecListItem

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
