"""A page of the catalog on the fast path (db.fastread), with what its books' fields need:
the page's categories, rating statistics and the viewer's ratings and feedback, read in the
same trip when the client selected them. A catalog page is then one worker-thread trip and
plain values, not a dataloader task per book and field."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from db.catalog import (
    BOOK_COLUMNS,
    BOOK_TABLE,
    LINK_TABLE,
    BookFilter,
    BookRow,
    CategoryRow,
    RatingStats,
    book_row,
    category_rows_of_books,
    escape_like,
)
from db.fastread import FastReads, Prepared
from db.models import Feedback, Rating
from db.readers import token_epoch_of

_PAGES: dict[tuple[bool, bool, bool, bool], Prepared] = {}


def _page_statement(flt: BookFilter, after: bool) -> Prepared:
    """The page statement for this shape of filter (made once per shape): fixed SQL, the
    values as parameters, so that the fast path can run it."""
    shape = (after, flt.category_id is not None, bool(flt.search), flt.include_hidden)
    found = _PAGES.get(shape)
    if found is None:
        book = BOOK_TABLE
        stmt = sa.select(*BOOK_COLUMNS)
        if after:
            stmt = stmt.where(book.c.id > sa.bindparam("after", type_=sa.Integer()))
        if not flt.include_hidden:
            stmt = stmt.where(book.c.hidden == sa.false())
        if flt.category_id is not None:
            stmt = stmt.where(
                book.c.id.in_(
                    sa.select(LINK_TABLE.c.book_id).where(
                        LINK_TABLE.c.category_id == sa.bindparam("category", type_=sa.Integer())
                    )
                )
            )
        if flt.search:
            pattern = sa.bindparam("pattern", type_=sa.String())
            stmt = stmt.where(
                sa.or_(
                    sa.func.lower(book.c.title).like(pattern, escape="\\"),
                    sa.func.lower(book.c.authors).like(pattern, escape="\\"),
                )
            )
        stmt = stmt.order_by(book.c.id).limit(sa.bindparam("limit", type_=sa.Integer()))
        found = _PAGES[shape] = Prepared(stmt)
    return found


@dataclass(frozen=True)
class BookPage:
    """A page of the catalog with what its books' fields need, read in one trip: the
    categories and rating statistics when the client selected them (None when not)."""

    rows: list[BookRow]
    categories: dict[int, list[CategoryRow]] | None
    stats: dict[int, RatingStats] | None
    my_ratings: dict[int, int] | None  # the viewer's half-stars per book, if asked
    my_feedback: dict[int, str] | None  # the viewer's like/dislike per book, if asked
    # False when the viewer's token is no longer honoured (account gone, password changed).
    viewer_honoured: bool = True


def book_page_rows(
    db: FastReads,
    flt: BookFilter,
    after_id: int | None,
    limit: int,
    with_categories: bool = False,
    with_stats: bool = False,
    viewer: tuple[int, int] | None = None,
    with_my_rating: bool = False,
    with_my_feedback: bool = False,
) -> BookPage:
    """Like `db.catalog.book_page` (one row more than `limit` says a next page exists), on
    the fast path, with the page's categories, rating statistics and the viewer's ratings
    and feedback in the same trip: one worker-thread trip, whatever the page shows.
    `viewer` is the token's (user id, token epoch): checked here against the account, so
    a token the account no longer honours reads nothing of it (`viewer_honoured` False)."""
    if viewer is not None and token_epoch_of(db, viewer[0]) != viewer[1]:
        return BookPage([], None, None, None, None, viewer_honoured=False)
    user_id = None if viewer is None else viewer[0]
    params: dict[str, Any] = {"limit": limit + 1}
    if after_id is not None:
        params["after"] = after_id
    if flt.category_id is not None:
        params["category"] = flt.category_id
    if flt.search:
        params["pattern"] = f"%{escape_like(flt.search.lower())}%"
    rows = [book_row(r) for r in db.rows(_page_statement(flt, after_id is not None), **params)]
    ids = [r.id for r in rows[:limit]]
    return BookPage(
        rows,
        category_rows_of_books(db, ids) if with_categories else None,
        rating_stats_rows(db, ids) if with_stats else None,
        my_half_stars(db, user_id, ids) if user_id is not None and with_my_rating else None,
        my_feedback(db, user_id, ids) if user_id is not None and with_my_feedback else None,
    )


_RATING_TABLE = Rating.__table__  # type: ignore[attr-defined]
# Sum and count, not AVG: PostgreSQL's AVG of integers is NUMERIC (a Decimal to convert).
_RATING_STATS = Prepared(
    sa.select(
        _RATING_TABLE.c.book_id,
        sa.func.sum(_RATING_TABLE.c.half_stars),
        sa.func.count(),
    )
    .where(_RATING_TABLE.c.book_id.in_(sa.bindparam("ids", expanding=True)))
    .group_by(_RATING_TABLE.c.book_id)
)


def rating_stats_rows(db: FastReads, book_ids: Sequence[int]) -> dict[int, RatingStats]:
    """Like `db.catalog.rating_stats`, on the fast path; every id gets an entry (unrated:
    None, 0)."""
    wanted = sorted(set(book_ids))
    out = {book: RatingStats(None, 0) for book in wanted}
    if wanted:
        for book, total, n in db.rows(_RATING_STATS, ids=wanted):
            out[book] = RatingStats(int(total) / int(n) / 2.0, int(n))
    return out


_MY_RATINGS = Prepared(
    sa.select(_RATING_TABLE.c.book_id, _RATING_TABLE.c.half_stars).where(
        _RATING_TABLE.c.user_id == sa.bindparam("user", type_=sa.Integer()),
        _RATING_TABLE.c.book_id.in_(sa.bindparam("ids", expanding=True)),
    )
)


_FEEDBACK_TABLE = Feedback.__table__  # type: ignore[attr-defined]
_MY_FEEDBACK = Prepared(
    sa.select(_FEEDBACK_TABLE.c.book_id, _FEEDBACK_TABLE.c.kind).where(
        _FEEDBACK_TABLE.c.user_id == sa.bindparam("user", type_=sa.Integer()),
        _FEEDBACK_TABLE.c.book_id.in_(sa.bindparam("ids", expanding=True)),
    )
)


def my_feedback(db: FastReads, user_id: int, book_ids: Sequence[int]) -> dict[int, str]:
    """A reader's like or dislike of those of these books they marked."""
    wanted = sorted(set(book_ids))
    if not wanted:
        return {}
    return {int(b): str(k) for b, k in db.rows(_MY_FEEDBACK, user=user_id, ids=wanted)}


def my_half_stars(db: FastReads, user_id: int, book_ids: Sequence[int]) -> dict[int, int]:
    """A reader's half-stars for those of these books they rated."""
    wanted = sorted(set(book_ids))
    if not wanted:
        return {}
    return {int(b): int(h) for b, h in db.rows(_MY_RATINGS, user=user_id, ids=wanted)}
