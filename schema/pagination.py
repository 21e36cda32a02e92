"""Opaque Relay cursors and page-size checks."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from db.ratings import RatingCursor
from schema.errors import BadUserInput, parse_key

MAX_PAGE = 100


def check_first(first: int) -> int:
    if not 1 <= first <= MAX_PAGE:
        raise BadUserInput(f"'first' must be between 1 and {MAX_PAGE}; got {first}.")
    return first


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str, prefix: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise BadUserInput(f"'{cursor}' is not a valid cursor.") from None
    if not text.startswith(prefix + ":"):
        raise BadUserInput(f"'{cursor}' is not a valid cursor here.")
    return text[len(prefix) + 1 :]


def book_cursor(book_id: int) -> str:
    return _encode(f"book:{book_id}")


def parse_book_cursor(cursor: str) -> int:
    book_id = parse_key(_decode(cursor, "book"))
    if book_id is None:
        raise BadUserInput(f"'{cursor}' is not a valid cursor.")
    return book_id


def rating_cursor(updated_at: datetime, book_id: int) -> str:
    return _encode(f"rating:{updated_at.isoformat()}|{book_id}")


def parse_rating_cursor(cursor: str) -> RatingCursor:
    value = _decode(cursor, "rating")
    stamp, _, book = value.rpartition("|")
    book_id = parse_key(book)
    try:
        updated_at = datetime.fromisoformat(stamp)
    except ValueError:
        updated_at = None
    if book_id is None or updated_at is None:
        raise BadUserInput(f"'{cursor}' is not a valid cursor.")
    return RatingCursor(updated_at, book_id)
