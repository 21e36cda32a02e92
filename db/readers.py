"""Readers (users) and the categories they chose."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlmodel import Session, col, delete, select

from db.catalog import categories_linked, require_categories
from db.errors import Conflict, NotFound
from db.fastread import FastReads, Prepared
from db.models import FEEDBACK_DISLIKED, Category, Feedback, Rating, User, UserCategory


def username_key(username: str) -> str:
    return username.lower()


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user with id {user_id}.")
    return user


def find_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def find_by_username(session: Session, username: str) -> User | None:
    stmt = select(User).where(User.username_key == username_key(username))
    return session.exec(stmt).first()


def set_staff(session: Session, username: str, staff: bool) -> User:
    """Grant or revoke the staff role; NotFound for an unknown username."""
    user = find_by_username(session, username)
    if user is None:
        raise NotFound(f"No user named '{username}'.")
    user.is_staff = staff
    session.add(user)
    return user


def create_user(
    session: Session, username: str, password_hash: str, category_ids: Iterable[int] = ()
) -> User:
    categories = require_categories(session, category_ids)
    user = User(username=username, username_key=username_key(username), password_hash=password_hash)
    try:
        # A savepoint, so that losing the race for a username leaves the transaction usable.
        with session.begin_nested():
            session.add(user)
            session.flush()
    except sa.exc.IntegrityError:
        raise Conflict(f"The username '{username}' is taken.") from None
    assert user.id is not None
    _replace_categories(session, user.id, categories)
    return user


def set_categories(session: Session, user_id: int, category_ids: Iterable[int]) -> None:
    categories = require_categories(session, category_ids)
    get_user(session, user_id)
    _replace_categories(session, user_id, categories)


def _replace_categories(session: Session, user_id: int, category_ids: Sequence[int]) -> None:
    session.exec(delete(UserCategory).where(col(UserCategory.user_id) == user_id))
    session.add_all(UserCategory(user_id=user_id, category_id=c) for c in category_ids)
    session.flush()


def categories_of_users(session: Session, user_ids: Sequence[int]) -> dict[int, list[Category]]:
    return categories_linked(session, col(UserCategory.user_id), user_ids)


def _reader_state_statement() -> sa.CompoundSelect:
    user = sa.bindparam("user_id", type_=sa.Integer())
    zero = sa.literal_column("0", sa.Integer())
    parts = [
        sa.select(sa.literal_column("'u'", sa.String()), col(User.id), zero).where(
            col(User.id) == user
        ),
        sa.select(
            sa.literal_column("'r'", sa.String()), col(Rating.book_id), col(Rating.half_stars)
        ).where(col(Rating.user_id) == user),
        sa.select(sa.literal_column("'d'", sa.String()), col(Feedback.book_id), zero).where(
            col(Feedback.user_id) == user, col(Feedback.kind) == FEEDBACK_DISLIKED
        ),
        sa.select(sa.literal_column("'c'", sa.String()), col(UserCategory.category_id), zero).where(
            col(UserCategory.user_id) == user
        ),
    ]
    return sa.union_all(*parts)


_READER_STATE = Prepared(_reader_state_statement())


def reader_state(
    db: FastReads, user_id: int
) -> tuple[list[tuple[int, float]], frozenset[int], frozenset[int]] | None:
    """(ratings as (book id, stars), disliked book ids, chosen category ids), or None if
    the reader does not exist (any more). One statement (a UNION of the four reads) on the
    fast path: this runs on every recommendations request."""
    rows = db.rows(_READER_STATE, user_id=user_id)
    if not any(kind == "u" for kind, _, _ in rows):
        return None
    return (
        [(key, half / 2.0) for kind, key, half in rows if kind == "r"],
        frozenset(key for kind, key, _ in rows if kind == "d"),
        frozenset(key for kind, key, _ in rows if kind == "c"),
    )
