"""The one-transaction writer: a validated catalog, then its ratings streamed chunk by chunk.

Everything happens in ONE transaction, so a failure anywhere (a bad rating line in strict
mode, even the last one; an id held by someone else; the disk) leaves nothing behind. Rows
already present are left alone (ON CONFLICT DO NOTHING) and counted as skipped.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from tqdm import tqdm

from db.engine import IMMEDIATE, advance_sequences, upsert_insert
from db.importers.bulk import rating_writer
from db.importers.errors import ImportFailed, fail
from db.importers.ratings import DEFAULT_CHUNK_LINES, RatingsFile, read_rating_chunks
from db.importers.reading import Table
from db.importers.refused import RefusedLines, default_report_path
from db.importers.report import ImportReport
from db.models import Book, BookCategory, Category, Rating, User

CHUNK_ROWS = 10_000
# Bound parameters per IN (...) lookup: well under SQLite's and PostgreSQL's limits.
LOOKUP_CHUNK = 900

BOOK = Book.__table__  # type: ignore[attr-defined]
CATEGORY = Category.__table__  # type: ignore[attr-defined]
BOOK_CATEGORY = BookCategory.__table__  # type: ignore[attr-defined]
USER = User.__table__  # type: ignore[attr-defined]
RATING = Rating.__table__  # type: ignore[attr-defined]
TABLES = (BOOK, CATEGORY, BOOK_CATEGORY, USER, RATING)


@dataclass
class CatalogData:
    """One validated catalog, in the database's terms, and where its ratings are."""

    source: str
    books: pd.DataFrame  # id, title, authors, year, isbn, description, cover_url
    book_lines: Table  # where each book came from, for conflict messages
    user_prefix: str  # readers become users "<prefix>-<id>"
    ratings: RatingsFile | None = None
    categories: list[str] = field(default_factory=list)
    book_categories: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class ImportOptions:
    """What to do with bad rating lines, and how many lines to read at a time."""

    # Refuse bad rating lines one by one, each listed with its reason in `refused_report`
    # (default: `default_report_path`), instead of refusing the whole import.
    skip_invalid: bool = False
    refused_report: Path | None = None
    chunk_lines: int = DEFAULT_CHUNK_LINES


STRICT = ImportOptions()


def write_catalog(
    engine: Engine, data: CatalogData, *, progress: bool, options: ImportOptions, started: float
) -> ImportReport:
    now = datetime.now(UTC)
    report = ImportReport(source=data.source)
    book_rows = data.books.to_dict("records")
    with ExitStack() as stack:
        refused = (
            stack.enter_context(
                RefusedLines(options.refused_report or default_report_path(data.user_prefix))
            )
            if options.skip_invalid
            else None
        )
        conn = stack.enter_context(engine.execution_options(**{IMMEDIATE: True}).begin())
        before = {t.name: _count(conn, t) for t in TABLES}
        _check_books(conn, data)
        _bulk(conn, BOOK, book_rows)
        _write_categories(conn, data)

        readers: set[int] = set()
        offered = 0
        if data.ratings is not None:
            bar = stack.enter_context(
                tqdm(
                    total=data.ratings.path.stat().st_size,
                    desc=data.ratings.name,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    file=sys.stderr,
                    disable=not progress,
                )
            )
            writer = rating_writer(conn, now)
            stack.callback(writer.close)  # also on failure: the connection goes back to a pool
            for chunk in read_rating_chunks(data.ratings, options.chunk_lines):
                if chunk.refused and refused is None:
                    first = chunk.refused[0]
                    raise fail(first.file, first.line, first.reason)
                if refused is not None:
                    refused.add(chunk.refused)
                new = sorted(set(chunk.user_id.tolist()) - readers)
                if new:
                    _write_readers(conn, new, data.user_prefix, now)
                    readers.update(new)
                writer.write(chunk)
                offered += chunk.valid_lines
                bar.update(chunk.bytes_read)
                bar.set_postfix_str(f"{offered:,} ratings", refresh=False)

        advance_sequences(conn)
        after = {t.name: _count(conn, t) for t in TABLES}

    def added(table: sa.Table) -> int:
        return after[table.name] - before[table.name]

    report.books_inserted = added(BOOK)
    report.books_skipped = len(book_rows) - report.books_inserted
    report.categories_inserted = added(CATEGORY)
    report.categories_skipped = len(data.categories) - report.categories_inserted
    report.book_categories_inserted = added(BOOK_CATEGORY)
    report.users_inserted = added(USER)
    report.users_skipped = len(readers) - report.users_inserted
    report.ratings_inserted = added(RATING)
    report.ratings_skipped = offered - report.ratings_inserted
    if refused is not None:
        report.lines_refused, report.refused_report = refused.count, refused.path
    report.seconds = time.perf_counter() - started
    return report


def _write_categories(conn: Connection, data: CatalogData) -> None:
    existing = dict(_lookup(conn, CATEGORY.c.name, data.categories, CATEGORY.c.name, CATEGORY.c.id))
    new_names = [name for name in data.categories if name not in existing]
    if new_names:
        _bulk(conn, CATEGORY, [{"name": n} for n in new_names])
        existing.update(
            dict(_lookup(conn, CATEGORY.c.name, new_names, CATEGORY.c.name, CATEGORY.c.id))
        )
    links = [
        {"book_id": book_id, "category_id": existing[name]}
        for book_id, name in data.book_categories
    ]
    _bulk(conn, BOOK_CATEGORY, links)


def _write_readers(conn: Connection, ids: list[int], prefix: str, now: datetime) -> None:
    """Users for the dataset's readers (no password), after checking no one else holds
    their ids or names."""
    names = {user_id: f"{prefix}-{user_id}" for user_id in ids}
    for user_id, key in _lookup(conn, USER.c.id, ids, USER.c.id, USER.c.username_key):
        if key != names[user_id].lower():
            raise ImportFailed(
                f"user id {user_id} is already '{key}' in the database, not "
                f"'{names[user_id]}': the database holds other users (import into an empty "
                "database)"
            )
    ids_by_key = {name.lower(): user_id for user_id, name in names.items()}
    for user_id, key in _lookup(
        conn, USER.c.username_key, list(ids_by_key), USER.c.id, USER.c.username_key
    ):
        if user_id != ids_by_key[key]:
            raise ImportFailed(
                f"username '{key}' already belongs to user id {user_id}, not "
                f"{ids_by_key[key]}: the database holds other users"
            )
    rows = [
        {
            "id": user_id,
            "username": name,
            "username_key": name.lower(),
            "password_hash": None,
            "created_at": now,
        }
        for user_id, name in names.items()
    ]
    _bulk(conn, USER, rows)


def _check_books(conn: Connection, data: CatalogData) -> None:
    ids = data.books["id"].tolist()
    titles = dict(zip(ids, data.books["title"].tolist(), strict=True))
    position = {book_id: i for i, book_id in enumerate(ids)}
    for book_id, title in _lookup(conn, BOOK.c.id, ids, BOOK.c.id, BOOK.c.title):
        if title != titles[book_id]:
            raise fail(
                data.book_lines.name,
                data.book_lines.line(position[book_id]),
                f"book id {book_id} is already '{title}' in the database, not "
                f"'{titles[book_id]}': the database holds another catalog "
                "(import into an empty database)",
            )


def _lookup(
    conn: Connection, column: sa.Column, wanted: Sequence[Any], *select: sa.Column
) -> list[Any]:
    rows: list[Any] = []
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = list(wanted[start : start + LOOKUP_CHUNK])
        rows.extend(conn.execute(sa.select(*select).where(column.in_(chunk))).all())
    return rows


def _count(conn: Connection, table: sa.Table) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _bulk(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    stmt = upsert_insert(conn.dialect.name)(table).on_conflict_do_nothing()
    for start in range(0, len(rows), CHUNK_ROWS):
        conn.execute(stmt, rows[start : start + CHUNK_ROWS])
