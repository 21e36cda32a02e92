"""Books and categories: lookups, filtered keyset pages, per-book aggregates."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session, col, select

from db.errors import NotFound
from db.fastread import FastReads, Prepared
from db.models import Book, BookCategory, Category, Feedback, Rating


@dataclass(frozen=True)
class BookFilter:
    category_id: int | None = None
    search: str | None = None
    include_hidden: bool = False  # staff only: readers never see hidden books


@dataclass(frozen=True)
class RatingStats:
    average_stars: float | None
    count: int


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filtered(stmt: Any, flt: BookFilter) -> Any:
    if not flt.include_hidden:
        stmt = stmt.where(col(Book.hidden) == sa.false())
    if flt.category_id is not None:
        stmt = stmt.where(
            col(Book.id).in_(
                select(BookCategory.book_id).where(BookCategory.category_id == flt.category_id)
            )
        )
    if flt.search:
        pattern = f"%{_escape_like(flt.search.lower())}%"
        stmt = stmt.where(
            sa.or_(
                sa.func.lower(Book.title).like(pattern, escape="\\"),
                sa.func.lower(Book.authors).like(pattern, escape="\\"),
            )
        )
    return stmt


def book_page(session: Session, flt: BookFilter, after_id: int | None, limit: int) -> list[Book]:
    """Books in id order after `after_id`: one row more than `limit` says a next page exists."""
    stmt = select(Book)
    if after_id is not None:
        stmt = stmt.where(col(Book.id) > after_id)
    stmt = _filtered(stmt, flt).order_by(col(Book.id)).limit(limit + 1)
    return list(session.exec(stmt).all())


def count_books(session: Session, flt: BookFilter) -> int:
    stmt = _filtered(select(sa.func.count()).select_from(Book), flt)
    return int(session.exec(stmt).one())


def get_book(session: Session, book_id: int) -> Book:
    book = session.get(Book, book_id)
    if book is None:
        raise NotFound(f"No book with id {book_id}.")
    return book


def get_visible_book(session: Session, book_id: int) -> Book:
    """A book readers may act on (rate, like): NotFound for a hidden one, as for none."""
    book = get_book(session, book_id)
    if book.hidden:
        raise NotFound(f"No book with id {book_id}.")
    return book


def books_by_ids(session: Session, ids: Sequence[int]) -> dict[int, Book]:
    if not ids:
        return {}
    rows = session.exec(select(Book).where(col(Book.id).in_(set(ids)))).all()
    return {b.id: b for b in rows if b.id is not None}


class BookRow(NamedTuple):
    """A book as the hot read path returns it: the columns of `book`, read-only."""

    id: int
    title: str
    authors: str
    year: int | None
    isbn: str | None
    description: str | None
    cover_url: str | None
    like_count: int
    hidden: bool


# A book as read: an ORM object, or a plain row with the same attributes.
BookLike = Book | BookRow

_BOOK_TABLE = Book.__table__  # type: ignore[attr-defined]
# SQLite's booleans are integers that SQLAlchemy converts on the way out, which the fast
# path does not do: read `hidden` as an integer on both engines, made a bool in `_book_row`.
_BOOK_COLUMNS = [
    *(_BOOK_TABLE.c[name] for name in BookRow._fields if name != "hidden"),
    sa.cast(_BOOK_TABLE.c.hidden, sa.Integer).label("hidden"),
]
_BOOK_ROWS = Prepared(
    sa.select(*_BOOK_COLUMNS).where(_BOOK_TABLE.c.id.in_(sa.bindparam("ids", expanding=True)))
)


def _book_row(row: Sequence[Any]) -> BookRow:
    return BookRow._make([*row[:-1], bool(row[-1])])


def book_rows_by_ids(db: FastReads, ids: Sequence[int]) -> dict[int, BookRow]:
    """Like `books_by_ids`, as read-only rows on the fast path (see db.fastread); hidden
    books included (the caller decides who may see them)."""
    if not ids:
        return {}
    rows = db.rows(_BOOK_ROWS, ids=sorted(set(ids)))
    return {row[0]: _book_row(row) for row in rows}


_HIDDEN = Prepared(sa.select(_BOOK_TABLE.c.id).where(_BOOK_TABLE.c.hidden == sa.true()))


def hidden_book_ids(db: FastReads) -> frozenset[int]:
    """Every hidden book, read in the request's own trip (an indexed read of a few rows), so
    that hiding a book takes effect on the next request in every server process."""
    return frozenset(int(book) for (book,) in db.rows(_HIDDEN))


_PAGES: dict[tuple[bool, bool, bool, bool], Prepared] = {}


def _page_statement(flt: BookFilter, after: bool) -> Prepared:
    """The page statement for this shape of filter (made once per shape): fixed SQL, the
    values as parameters, so that the fast path can run it."""
    shape = (after, flt.category_id is not None, bool(flt.search), flt.include_hidden)
    found = _PAGES.get(shape)
    if found is None:
        book = _BOOK_TABLE
        stmt = sa.select(*_BOOK_COLUMNS)
        if after:
            stmt = stmt.where(book.c.id > sa.bindparam("after", type_=sa.Integer()))
        if not flt.include_hidden:
            stmt = stmt.where(book.c.hidden == sa.false())
        if flt.category_id is not None:
            stmt = stmt.where(
                book.c.id.in_(
                    sa.select(_LINK_TABLE.c.book_id).where(
                        _LINK_TABLE.c.category_id == sa.bindparam("category", type_=sa.Integer())
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


def book_page_rows(
    db: FastReads,
    flt: BookFilter,
    after_id: int | None,
    limit: int,
    with_categories: bool = False,
    with_stats: bool = False,
    viewer: int | None = None,
    with_my_rating: bool = False,
    with_my_feedback: bool = False,
) -> BookPage:
    """Like `book_page` (one row more than `limit` says a next page exists), on the fast
    path, with the page's categories, rating statistics and the viewer's ratings in the
    same trip: a catalog page is then one worker-thread trip, whatever it shows."""
    params: dict[str, Any] = {"limit": limit + 1}
    if after_id is not None:
        params["after"] = after_id
    if flt.category_id is not None:
        params["category"] = flt.category_id
    if flt.search:
        params["pattern"] = f"%{_escape_like(flt.search.lower())}%"
    rows = [_book_row(r) for r in db.rows(_page_statement(flt, after_id is not None), **params)]
    ids = [r.id for r in rows[:limit]]
    return BookPage(
        rows,
        category_rows_of_books(db, ids) if with_categories else None,
        rating_stats_rows(db, ids) if with_stats else None,
        my_half_stars(db, viewer, ids) if viewer is not None and with_my_rating else None,
        my_feedback(db, viewer, ids) if viewer is not None and with_my_feedback else None,
    )


class CategoryRow(NamedTuple):
    id: int
    name: str


_CATEGORY_TABLE = Category.__table__  # type: ignore[attr-defined]
_LINK_TABLE = BookCategory.__table__  # type: ignore[attr-defined]
_BOOK_CATEGORIES = Prepared(
    sa.select(_LINK_TABLE.c.book_id, _CATEGORY_TABLE.c.id, _CATEGORY_TABLE.c.name)
    .join(_CATEGORY_TABLE, _CATEGORY_TABLE.c.id == _LINK_TABLE.c.category_id)
    .where(_LINK_TABLE.c.book_id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(_CATEGORY_TABLE.c.name)
)


def category_rows_of_books(db: FastReads, ids: Sequence[int]) -> dict[int, list[CategoryRow]]:
    """Like `categories_of_books`, as read-only rows on the fast path; every id gets a list."""
    wanted = sorted(set(ids))
    out: dict[int, list[CategoryRow]] = {book: [] for book in wanted}
    if wanted:
        for book, category, name in db.rows(_BOOK_CATEGORIES, ids=wanted):
            out[book].append(CategoryRow(category, name))
    return out


_CATEGORY_KNOWN = Prepared(
    sa.select(Category.__table__.c.id).where(  # type: ignore[attr-defined]
        Category.__table__.c.id == sa.bindparam("id", type_=sa.Integer())  # type: ignore[attr-defined]
    )
)


def category_known(db: FastReads, category_id: int) -> bool:
    return bool(db.rows(_CATEGORY_KNOWN, id=category_id))


def all_categories(session: Session) -> list[Category]:
    return list(session.exec(select(Category).order_by(col(Category.name))).all())


def categories_by_ids(session: Session, ids: Iterable[int]) -> dict[int, Category]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = session.exec(select(Category).where(col(Category.id).in_(wanted))).all()
    return {c.id: c for c in rows if c.id is not None}


def require_categories(session: Session, ids: Iterable[int]) -> list[int]:
    wanted = sorted(set(ids))
    found = categories_by_ids(session, wanted)
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFound(f"No category with id {', '.join(map(str, missing))}.")
    return wanted


def categories_linked(session: Session, key: Any, ids: Sequence[int]) -> dict[int, list[Category]]:
    """Categories per id through a link table, by name: `key` is the link table's id column
    (`BookCategory.book_id`, `UserCategory.user_id`); the table also has `category_id`."""
    out: dict[int, list[Category]] = defaultdict(list)
    if not ids:
        return out
    link = key.table
    stmt = (
        select(key, Category)
        .join(Category, col(Category.id) == link.c.category_id)
        .where(key.in_(set(ids)))
        .order_by(col(Category.name))
    )
    for owner, category in session.exec(stmt).all():
        out[owner].append(category)
    return out


def categories_of_books(session: Session, book_ids: Sequence[int]) -> dict[int, list[Category]]:
    return categories_linked(session, col(BookCategory.book_id), book_ids)


def book_counts(session: Session, category_ids: Sequence[int]) -> dict[int, int]:
    """Books per category, as readers see them: hidden books are not counted."""
    if not category_ids:
        return {}
    stmt = (
        select(BookCategory.category_id, sa.func.count())
        .join(Book, col(Book.id) == col(BookCategory.book_id))
        .where(col(BookCategory.category_id).in_(set(category_ids)))
        .where(col(Book.hidden) == sa.false())
        .group_by(col(BookCategory.category_id))
    )
    return {cid: int(n) for cid, n in session.exec(stmt).all()}


def rating_stats(session: Session, book_ids: Sequence[int]) -> dict[int, RatingStats]:
    if not book_ids:
        return {}
    stmt = (
        select(Rating.book_id, sa.func.avg(Rating.half_stars), sa.func.count())
        .where(col(Rating.book_id).in_(set(book_ids)))
        .group_by(col(Rating.book_id))
    )
    return {
        book_id: RatingStats(float(avg) / 2.0 if avg is not None else None, int(n))
        for book_id, avg, n in session.exec(stmt).all()
    }


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
    """Like `rating_stats`, on the fast path; every id gets an entry (unrated: None, 0)."""
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
