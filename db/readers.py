"""Readers (users) and the categories they chose."""

from __future__ import annotations

import secrets
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


def session_user(session: Session, user_id: int, token_epoch: int) -> User | None:
    """The account a token names, if it still exists and the token is of its current epoch
    (no password change since it was issued); None otherwise."""
    user = session.get(User, user_id)
    return user if user is not None and user.token_epoch == token_epoch else None


def new_token_epoch() -> int:
    """A fresh epoch: random (see User.token_epoch), never 0, within a signed 64-bit."""
    return secrets.randbelow(2**62) + 1


def change_password(
    session: Session, user_id: int, token_epoch: int, password_hash: str
) -> User | None:
    """Set a new password hash and a new token epoch, if the account is still at
    `token_epoch` (compare-and-set: of two concurrent changes made with one session, one
    wins); None if it is not (or is gone). Every token issued before stops working."""
    result = session.execute(
        sa.update(User)
        .where(col(User.id) == user_id, col(User.token_epoch) == token_epoch)
        .values(password_hash=password_hash, token_epoch=new_token_epoch())
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    user = session.get(User, user_id, populate_existing=True)
    assert user is not None
    return user


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
    user = User(
        username=username,
        username_key=username_key(username),
        password_hash=password_hash,
        token_epoch=new_token_epoch(),
    )
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


_TOKEN_EPOCH = Prepared(
    sa.select(col(User.token_epoch)).where(col(User.id) == sa.bindparam("id", type_=sa.Integer()))
)


def token_epoch_of(db: FastReads, user_id: int) -> int | None:
    """The account's token epoch, None if there is no such account (on the fast path)."""
    rows = db.rows(_TOKEN_EPOCH, id=user_id)
    return int(rows[0][0]) if rows else None


def categories_of_users(session: Session, user_ids: Sequence[int]) -> dict[int, list[Category]]:
    return categories_linked(session, col(UserCategory.user_id), user_ids)


def _reader_state_statement() -> sa.CompoundSelect:
    user = sa.bindparam("user_id", type_=sa.Integer())
    zero = sa.literal_column("0", sa.Integer())
    parts = [
        # The account's token epoch rides in the third column: checking the token against
        # it costs the recommendations request nothing more.
        sa.select(sa.literal_column("'u'", sa.String()), col(User.id), col(User.token_epoch)).where(
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
    db: FastReads, user_id: int, token_epoch: int | None = None
) -> tuple[list[tuple[int, float]], frozenset[int], frozenset[int]] | None:
    """(ratings as (book id, stars), disliked book ids, chosen category ids), or None if
    the reader does not exist (any more), or if `token_epoch` is given and is not the
    account's now (the token predates a password change). One statement (a UNION of the
    four reads) on the fast path: this runs on every recommendations request."""
    epoch: int | None = None
    rated: list[tuple[int, float]] = []
    disliked: list[int] = []
    categories: list[int] = []
    for kind, key, value in db.rows(_READER_STATE, user_id=user_id):  # one pass: ~40 rows
        if kind == "r":
            rated.append((key, value / 2.0))
        elif kind == "u":
            epoch = int(value)
        elif kind == "d":
            disliked.append(key)
        elif kind == "c":
            categories.append(key)
    if epoch is None or (token_epoch is not None and epoch != token_epoch):
        return None
    return rated, frozenset(disliked), frozenset(categories)
