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
from db.models import Book, BookCategory, CatalogState, Category, Rating


@dataclass(frozen=True)
class BookFilter:
    category_id: int | None = None
    search: str | None = None
    include_hidden: bool = False  # staff only: readers never see hidden books


@dataclass(frozen=True)
class RatingStats:
    average_stars: float | None
    count: int


def escape_like(term: str) -> str:
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
        pattern = f"%{escape_like(flt.search.lower())}%"
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

BOOK_TABLE = Book.__table__  # type: ignore[attr-defined]
# SQLite's booleans are integers that SQLAlchemy converts on the way out, which the fast
# path does not do: read `hidden` as an integer on both engines, made a bool in `book_row`.
BOOK_COLUMNS = [
    *(BOOK_TABLE.c[name] for name in BookRow._fields if name != "hidden"),
    sa.cast(BOOK_TABLE.c.hidden, sa.Integer).label("hidden"),
]
_BOOK_ROWS = Prepared(
    sa.select(*BOOK_COLUMNS).where(BOOK_TABLE.c.id.in_(sa.bindparam("ids", expanding=True)))
)


def book_row(row: Sequence[Any]) -> BookRow:
    return BookRow._make([*row[:-1], bool(row[-1])])


def book_rows_by_ids(db: FastReads, ids: Sequence[int]) -> dict[int, BookRow]:
    """Like `books_by_ids`, as read-only rows on the fast path (see db.fastread); hidden
    books included (the caller decides who may see them)."""
    if not ids:
        return {}
    rows = db.rows(_BOOK_ROWS, ids=sorted(set(ids)))
    return {row[0]: book_row(row) for row in rows}


_LIKE_COUNTS = Prepared(
    sa.select(BOOK_TABLE.c.id, BOOK_TABLE.c.like_count).where(
        BOOK_TABLE.c.id.in_(sa.bindparam("ids", expanding=True))
    )
)


def like_counts(db: FastReads, ids: Sequence[int]) -> dict[int, int]:
    """The like counts of these books, now (the one column of a book that the catalog's
    generation does not follow: see db.catalog_cache)."""
    if not ids:
        return {}
    return dict(db.rows(_LIKE_COUNTS, ids=sorted(set(ids))))  # type: ignore[arg-type]


_STATE_TABLE = CatalogState.__table__  # type: ignore[attr-defined]
_GENERATION = Prepared(sa.select(_STATE_TABLE.c.generation).where(_STATE_TABLE.c.id == 1))


def catalog_generation(db: FastReads) -> int | None:
    """The catalog's generation (see db.catalog_cache); None if its row is missing."""
    rows = db.rows(_GENERATION)
    return int(rows[0][0]) if rows else None


_HIDDEN = Prepared(sa.select(BOOK_TABLE.c.id).where(BOOK_TABLE.c.hidden == sa.true()))


def hidden_book_ids(db: FastReads) -> frozenset[int]:
    """Every hidden book (an indexed read of a few rows). The recommendations path keeps it
    per catalog generation (db.catalog_cache), so hiding a book takes effect on the next
    request in every server process."""
    return frozenset(int(book) for (book,) in db.rows(_HIDDEN))


class CategoryRow(NamedTuple):
    id: int
    name: str


_CATEGORY_TABLE = Category.__table__  # type: ignore[attr-defined]
LINK_TABLE = BookCategory.__table__  # type: ignore[attr-defined]
_BOOK_CATEGORIES = Prepared(
    sa.select(LINK_TABLE.c.book_id, _CATEGORY_TABLE.c.id, _CATEGORY_TABLE.c.name)
    .join(_CATEGORY_TABLE, _CATEGORY_TABLE.c.id == LINK_TABLE.c.category_id)
    .where(LINK_TABLE.c.book_id.in_(sa.bindparam("ids", expanding=True)))
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
