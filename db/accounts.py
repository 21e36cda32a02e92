"""A reader's account as a whole: deleting it with everything of theirs, exporting it.

Both find "everything of theirs" from the tables' foreign keys (`SQLModel.metadata`), not
from a list kept by hand: a table added later with a column referencing `app_user` (and
the tables referencing its rows, and so on) is deleted and exported with the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col

from db.models import (
    FEEDBACK_LIKED,
    Book,
    Category,
    Feedback,
    Rating,
    RecList,
    RecListItem,
    User,
    UserCategory,
)
from db.readers import find_by_username

_USERS: sa.Table = User.__table__  # type: ignore[attr-defined]


def _references(table: sa.Table) -> Iterator[tuple[sa.Table, sa.ForeignKeyConstraint]]:
    """Every (table, foreign key) whose key points at `table`."""
    for other in SQLModel.metadata.sorted_tables:
        for fk in other.foreign_key_constraints:
            if fk.referred_table is table:
                yield other, fk


def user_tables() -> list[tuple[sa.Table, sa.ForeignKeyConstraint]]:
    """The tables with a column referencing `app_user`, with that foreign key."""
    return list(_references(_USERS))


def _matching(
    fk: sa.ForeignKeyConstraint, parent: sa.Table, parent_rows: sa.ColumnElement[bool]
) -> sa.ColumnElement[bool]:
    """Rows of fk's table that reference a row of `parent` matching `parent_rows`."""
    local = [element.parent for element in fk.elements]
    remote = [element.column for element in fk.elements]
    parents = sa.select(*remote).where(parent_rows)
    if len(local) == 1:
        return local[0].in_(parents)
    return sa.tuple_(*local).in_(parents)


def _delete_rows(
    session: Session, table: sa.Table, rows: sa.ColumnElement[bool], path: tuple[sa.Table, ...]
) -> None:
    """Delete `rows` of `table` after whatever references them, depth first. A reference
    declared ON DELETE SET NULL is set to NULL instead (the row is not the reader's)."""
    for child, fk in _references(table):
        if child in path:  # a cycle: its own foreign keys will have to say
            continue
        matching = _matching(fk, table, rows)
        if (fk.ondelete or "").upper() == "SET NULL":
            session.execute(
                sa.update(child).where(matching).values({e.parent.key: None for e in fk.elements})
            )
        else:
            _delete_rows(session, child, matching, (*path, child))
    session.execute(sa.delete(table).where(rows))


def delete_account(session: Session, user_id: int, token_epoch: int) -> bool:
    """Delete the account and every row of it, in the caller's transaction; False (and
    nothing deleted) if there is no such account at that token epoch. The account's row is
    locked first, so that a concurrent write for it (whose foreign-key check takes a
    key-share lock on it) waits and then finds it gone. The books it liked count one like
    fewer (their rows locked in id order, the order `set_feedback` takes one)."""
    found = session.execute(
        sa.select(col(User.id))
        .where(col(User.id) == user_id, col(User.token_epoch) == token_epoch)
        .with_for_update()
    ).first()
    if found is None:
        return False
    liked = sa.select(col(Feedback.book_id)).where(
        col(Feedback.user_id) == user_id, col(Feedback.kind) == FEEDBACK_LIKED
    )
    books = list(
        session.execute(
            sa.select(col(Book.id))
            .where(col(Book.id).in_(liked))
            .order_by(col(Book.id))
            .with_for_update(key_share=True)
        ).scalars()
    )
    if books:
        session.execute(
            sa.update(Book).where(col(Book.id).in_(books)).values(like_count=Book.like_count - 1)
        )
    _delete_rows(session, _USERS, _USERS.c.id == user_id, (_USERS,))
    return True


# --- export ------------------------------------------------------------------------------


def _value(value: Any) -> Any:
    if isinstance(value, datetime):  # SQLite gives naive datetimes back: they are UTC
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return value


def _rows(session: Session, stmt: sa.Executable) -> list[dict[str, Any]]:
    return [
        {key: _value(value) for key, value in row.items()}
        for row in session.execute(stmt).mappings()
    ]


_EXPORTED = {"user_category", "rating", "feedback", "rec_list"}


def export_user(session: Session, username: str) -> dict[str, Any] | None:
    """Everything stored about a reader, as JSON-ready values; None if there is no such
    account. The profile leaves out the password hash and the token epoch (secrets)."""
    user = find_by_username(session, username)
    if user is None:
        return None
    uid = user.id
    categories = (
        sa.select(col(Category.id), col(Category.name))
        .join(UserCategory, col(UserCategory.category_id) == col(Category.id))
        .where(col(UserCategory.user_id) == uid)
        .order_by(col(Category.id))
    )
    ratings = (
        sa.select(
            col(Rating.book_id),
            col(Book.title),
            col(Rating.half_stars),
            col(Rating.created_at),
            col(Rating.updated_at),
        )
        .join(Book, col(Book.id) == col(Rating.book_id))
        .where(col(Rating.user_id) == uid)
        .order_by(col(Rating.updated_at), col(Rating.book_id))
    )
    feedback = (
        sa.select(
            col(Feedback.book_id), col(Book.title), col(Feedback.kind), col(Feedback.created_at)
        )
        .join(Book, col(Book.id) == col(Feedback.book_id))
        .where(col(Feedback.user_id) == uid)
        .order_by(col(Feedback.created_at), col(Feedback.book_id))
    )
    lists = _rows(
        session,
        sa.select(RecList.__table__)  # type: ignore[attr-defined]
        .where(col(RecList.user_id) == uid)
        .order_by(col(RecList.created_at), col(RecList.id)),
    )
    items: dict[str, list[dict[str, Any]]] = {}
    of_user = sa.select(col(RecList.id)).where(col(RecList.user_id) == uid)
    item_rows = (
        sa.select(RecListItem.__table__)  # type: ignore[attr-defined]
        .where(col(RecListItem.list_id).in_(of_user))
        .order_by(col(RecListItem.list_id), col(RecListItem.position))
    )
    for item in _rows(session, item_rows):
        items.setdefault(item.pop("list_id"), []).append(item)
    for header in lists:
        header.pop("user_id", None)
        header["items"] = items.get(header["id"], [])
    mine = _USERS.c.id == uid
    other = {
        table.name: _rows(session, sa.select(table).where(_matching(fk, _USERS, mine)))
        for table, fk in user_tables()
        if table.name not in _EXPORTED
    }
    return {
        "profile": {
            "id": uid,
            "username": user.username,
            "is_staff": user.is_staff,
            "created_at": _value(user.created_at),
        },
        "categories": _rows(session, categories),
        "ratings": [
            {"stars": row.pop("half_stars") / 2.0, **row} for row in _rows(session, ratings)
        ],
        "feedback": _rows(session, feedback),
        "lists": lists,
        "other": other,
    }
