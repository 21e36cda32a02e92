"""Staff's catalog writes: add and edit books, hide them, set their categories, add
categories. Everything is validated before anything is written, and each call runs inside
the operation's one transaction (the unit of work), so a refused edit leaves nothing behind.

The rules restate the table's limits (db.models) as messages a person can act on; the
database constraints stay the last word."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlmodel import Session, col, delete, select

from db.catalog import get_book, require_categories
from db.errors import Conflict, InvalidInput
from db.models import Book, BookCategory, Category

MAX_TITLE = 500
MAX_AUTHORS = 500
MAX_URL = 500
MAX_DESCRIPTION = 20_000
MAX_CATEGORY_NAME = 100
EARLIEST_YEAR = -3000  # the catalog has ancient texts (goodbooks: The Odyssey, -720)
MAX_CATEGORIES_PER_BOOK = 50
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class BookFields:
    """What staff give for a book (the GraphQL BookInput), before it is checked.
    `category_ids` None: leave the book's categories as they are (an edit)."""

    title: str
    authors: str
    year: int | None = None
    isbn: str | None = None
    description: str | None = None
    cover_url: str | None = None
    category_ids: Sequence[int] | None = None


def _line(value: str, what: str, limit: int, required: bool) -> str:
    text = value.strip()
    if required and not text:
        raise InvalidInput(f"The {what} must not be empty.")
    if len(text) > limit:
        raise InvalidInput(f"The {what} is limited to {limit} characters; got {len(text)}.")
    if _CONTROL.search(text):
        raise InvalidInput(f"The {what} must be one line of text (no control characters).")
    return text


def _optional(value: str | None) -> str | None:
    """Empty means none."""
    return value.strip() or None if value is not None else None


def normalise_isbn(value: str) -> str:
    """An ISBN-10 or ISBN-13 with a valid check digit, without hyphens or spaces."""
    digits = re.sub(r"[\s-]", "", value).upper()
    if re.fullmatch(r"\d{9}[\dX]", digits):
        total = sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(digits))
        if total % 11 == 0:
            return digits
    elif re.fullmatch(r"\d{13}", digits):
        total = sum((3 if i % 2 else 1) * int(c) for i, c in enumerate(digits))
        if total % 10 == 0:
            return digits
    raise InvalidInput(
        f"'{value[:40]}' is not a valid ISBN (10 or 13 digits with a correct check digit)."
    )


def _cover_url(value: str) -> str:
    if len(value) > MAX_URL:
        raise InvalidInput(f"The cover URL is limited to {MAX_URL} characters.")
    parts = urlsplit(value)
    # Shown as an image by the apps: only plain web addresses (never javascript: or data:).
    if parts.scheme not in ("http", "https") or not parts.netloc or _CONTROL.search(value):
        raise InvalidInput("The cover URL must be an http:// or https:// address.")
    return value


def checked(fields: BookFields) -> BookFields:
    """The fields as they will be stored, or InvalidInput naming the first problem."""
    latest = datetime.now(UTC).year + 1
    if fields.year is not None and not EARLIEST_YEAR <= fields.year <= latest:
        raise InvalidInput(
            f"The year must be between {EARLIEST_YEAR} and {latest}; got {fields.year}."
        )
    description = _optional(fields.description)
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"The description is limited to {MAX_DESCRIPTION} characters.")
    if fields.category_ids is not None and len(fields.category_ids) > MAX_CATEGORIES_PER_BOOK:
        raise InvalidInput(f"A book has at most {MAX_CATEGORIES_PER_BOOK} categories.")
    isbn = _optional(fields.isbn)
    cover = _optional(fields.cover_url)
    return BookFields(
        title=_line(fields.title, "title", MAX_TITLE, required=True),
        authors=_line(fields.authors, "authors", MAX_AUTHORS, required=False),
        year=fields.year,
        isbn=None if isbn is None else normalise_isbn(isbn),
        description=description,
        cover_url=None if cover is None else _cover_url(cover),
        category_ids=fields.category_ids,
    )


def add_book(session: Session, fields: BookFields) -> Book:
    """A new, visible book (with its categories). It has no model vector until the next
    training: serving reaches it through search, listings and the popularity steps."""
    good = checked(fields)
    categories = require_categories(session, good.category_ids or ())
    book = Book(
        title=good.title,
        authors=good.authors,
        year=good.year,
        isbn=good.isbn,
        description=good.description,
        cover_url=good.cover_url,
    )
    session.add(book)
    session.flush()
    assert book.id is not None
    _replace_categories(session, book.id, categories)
    return book


def update_book(session: Session, book_id: int, fields: BookFields) -> Book:
    """Replace a book's fields (and its categories, when given); NotFound if there is none."""
    good = checked(fields)
    book = get_book(session, book_id)
    categories = (
        None if good.category_ids is None else require_categories(session, good.category_ids)
    )
    book.title, book.authors, book.year = good.title, good.authors, good.year
    book.isbn, book.description, book.cover_url = good.isbn, good.description, good.cover_url
    session.add(book)
    if categories is not None:
        _replace_categories(session, book_id, categories)
    session.flush()
    return book


def set_hidden(session: Session, book_id: int, hidden: bool) -> Book:
    """Hide a book from readers (or show it again). Its ratings and feedback are kept."""
    book = get_book(session, book_id)
    book.hidden = hidden
    session.add(book)
    session.flush()
    return book


def set_book_categories(session: Session, book_id: int, category_ids: Sequence[int]) -> Book:
    if len(category_ids) > MAX_CATEGORIES_PER_BOOK:
        raise InvalidInput(f"A book has at most {MAX_CATEGORIES_PER_BOOK} categories.")
    book = get_book(session, book_id)
    _replace_categories(session, book_id, require_categories(session, category_ids))
    return book


def _replace_categories(session: Session, book_id: int, category_ids: Sequence[int]) -> None:
    session.exec(delete(BookCategory).where(col(BookCategory.book_id) == book_id))
    session.add_all(BookCategory(book_id=book_id, category_id=c) for c in category_ids)
    session.flush()


def add_category(session: Session, name: str) -> Category:
    """A new category; Conflict if one of that name exists (case aside)."""
    clean = _line(name, "category name", MAX_CATEGORY_NAME, required=True)
    same = session.exec(
        select(Category).where(sa.func.lower(col(Category.name)) == clean.lower())
    ).first()
    if same is not None:
        raise Conflict(f"A category named '{same.name}' exists (id {same.id}).")
    category = Category(name=clean)
    try:
        # A savepoint: losing a race for the name leaves the transaction usable.
        with session.begin_nested():
            session.add(category)
            session.flush()
    except sa.exc.IntegrityError:
        raise Conflict(f"A category named '{clean}' exists.") from None
    return category
