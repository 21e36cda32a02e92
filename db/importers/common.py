"""What every importer shares: the failure and report types, strict file reading with exact
line numbers, column checks, and the one-transaction bulk writer.

Importers parse and validate *everything* first (pandas, all columns as text, then checked
conversions) and only then open one transaction, so a bad file leaves nothing behind.
"""

from __future__ import annotations

import csv
import io
import re
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from tqdm import tqdm

from db.engine import IMMEDIATE, advance_sequences, upsert_insert
from db.models import Book, BookCategory, Category, Rating, User

CHUNK_ROWS = 10_000
# Bound parameters per IN (...) lookup: well under SQLite's and PostgreSQL's limits.
LOOKUP_CHUNK = 900
TITLE_MAX = 500
AUTHORS_MAX = 500
ISBN_MAX = 20
URL_MAX = 500
CATEGORY_MAX = 100


class ImportFailed(Exception):
    """A dataset could not be imported; the message names the file, the line and the problem.

    Nothing of the failed import is left in the database.
    """


def fail(name: str, line: int | None, message: str) -> ImportFailed:
    where = f"{name} line {line}" if line is not None else name
    return ImportFailed(f"{where}: {message}")


@dataclass
class ImportReport:
    source: str
    books_inserted: int = 0
    books_skipped: int = 0
    categories_inserted: int = 0
    categories_skipped: int = 0
    users_inserted: int = 0
    users_skipped: int = 0
    ratings_inserted: int = 0
    ratings_skipped: int = 0
    book_categories_inserted: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        def part(label: str, inserted: int, skipped: int) -> str:
            return f"{label} {inserted:,} new, {skipped:,} already present"

        return (
            f"Imported {self.source} in {self.seconds:.2f}s: "
            + "; ".join(
                [
                    part("books", self.books_inserted, self.books_skipped),
                    part("categories", self.categories_inserted, self.categories_skipped),
                    part("users", self.users_inserted, self.users_skipped),
                    part("ratings", self.ratings_inserted, self.ratings_skipped),
                ]
            )
            + "."
        )


# --------------------------------------------------------------------------- reading files


@dataclass
class Table:
    """A parsed file: every column as text, plus the 1-based file line of each row."""

    name: str
    frame: pd.DataFrame
    lines: np.ndarray  # lines[i] is the file line where row i starts

    def line(self, row: int) -> int:
        return int(self.lines[row])


def read_text(path: Path, encoding: str) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode(
            "utf-8-sig" if encoding.lower().replace("_", "-") == "utf-8" else encoding
        )
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise fail(
            path.name, line, f"byte 0x{raw[exc.start]:02x} is not valid {encoding} text"
        ) from None


def _record_lines_plain(text: str, sep: str, expected: int, name: str) -> np.ndarray:
    """Line numbers of the non-blank lines, checking each has `expected` fields (no quoting)."""
    lines = pd.Series(text.split("\n"), dtype=object)
    stripped = lines.str.rstrip("\r")
    nonblank = (stripped != "").to_numpy()
    counts = stripped.str.count(re.escape(sep)).to_numpy() + 1
    bad = np.flatnonzero(nonblank & (counts != expected))
    if bad.size:
        i = int(bad[0])
        raise fail(name, i + 1, f"expected {expected} fields, found {int(counts[i])}")
    return np.flatnonzero(nonblank) + 1


def _record_lines_quoted(text: str, sep: str, expected: int, name: str) -> np.ndarray:
    """Like `_record_lines_plain`, for files with quoted fields (which may span lines)."""
    starts: list[int] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    previous_end = 0
    try:
        for record in reader:
            start = previous_end + 1
            previous_end = reader.line_num
            if not record:
                continue
            if len(record) != expected:
                raise fail(name, start, f"expected {expected} fields, found {len(record)}")
            starts.append(start)
    except csv.Error as exc:
        raise fail(name, reader.line_num, f"malformed CSV ({exc})") from None
    return np.asarray(starts, dtype=np.int64)


def read_table(
    path: Path,
    *,
    sep: str = ",",
    encoding: str = "utf-8",
    columns: Sequence[str] | None = None,
    required: Sequence[str] = (),
    quoting: bool = True,
) -> Table:
    """Read a delimited file strictly.

    With `columns`, the file has no header and exactly those columns; otherwise the first
    line is the header and must contain every name in `required`. Every row must have as
    many fields as the header (a truncated line is an error, not a row of blanks).
    """
    name = path.name
    text = read_text(path, encoding)
    if columns is None:
        first = next(
            csv.reader(io.StringIO(text.split("\n", 1)[0].rstrip("\r")), delimiter=sep), []
        )
        header = [c.strip() for c in first]
        missing = [c for c in required if c not in header]
        if not header or missing:
            raise fail(
                name,
                1,
                f"missing column(s) {', '.join(missing or required)}; "
                f"expected a header with {', '.join(required)}",
            )
        expected = len(header)
    else:
        header = list(columns)
        expected = len(header)

    if quoting and '"' in text:
        lines = _record_lines_quoted(text, sep, expected, name)
    else:
        lines = _record_lines_plain(text, sep, expected, name)
    if columns is None:
        lines = lines[1:]  # the header

    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=None,
            skiprows=0 if columns is not None else 1,
            names=header,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            quoting=csv.QUOTE_MINIMAL if quoting else csv.QUOTE_NONE,
            engine="c",
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise fail(name, None, f"could not be parsed ({exc})") from None
    if len(frame) != len(lines):
        # Should not happen after the field check; keep line numbers honest if it does.
        start = 1 if columns is not None else 2
        lines = np.arange(start, start + len(frame))
    return Table(name=name, frame=frame, lines=lines)


# --------------------------------------------------------------------------- checked columns


def _first_bad(table: Table, mask: np.ndarray) -> int | None:
    bad = np.flatnonzero(mask)
    return int(bad[0]) if bad.size else None


def int_column(
    table: Table,
    column: str,
    *,
    label: str | None = None,
    nullable: bool = False,
    minimum: int | None = None,
) -> pd.Series:
    """Integers (written as `12` or `12.0`); blanks become <NA> only when `nullable`."""
    label = label or column
    text = table.frame[column].astype(object).str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    blank = (text == "").to_numpy()
    values = numbers.to_numpy(dtype=float, na_value=np.nan)
    not_int = np.isnan(values) & ~blank | (~np.isnan(values) & (values != np.round(values)))
    row = _first_bad(table, not_int | (blank & (not nullable)))
    if row is not None:
        raw = text.iloc[row]
        problem = f"{label} is empty" if raw == "" else f"{label} '{raw}' is not an integer"
        raise fail(table.name, table.line(row), problem)
    if minimum is not None:
        row = _first_bad(table, ~np.isnan(values) & (values < minimum))
        if row is not None:
            raise fail(
                table.name, table.line(row), f"{label} '{text.iloc[row]}' is less than {minimum}"
            )
    return pd.Series(values, index=table.frame.index).round().astype("Int64")


def half_stars_column(table: Table, column: str, *, whole_stars: bool) -> np.ndarray:
    """Star ratings -> half-stars 1..10: whole stars 1..5, or 0.5..5 in half steps."""
    text = table.frame[column].astype(object).str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    doubled = values * 2
    if whole_stars:
        ok = ~np.isnan(values) & (values == np.round(values)) & (values >= 1) & (values <= 5)
        rule = "is not between 1 and 5"
    else:
        ok = ~np.isnan(values) & (doubled == np.round(doubled)) & (values >= 0.5) & (values <= 5)
        rule = "is not between 0.5 and 5 in half steps"
    row = _first_bad(table, ~ok)
    if row is not None:
        raw = text.iloc[row]
        problem = (
            f"rating '{raw}' is not a number" if np.isnan(values[row]) else f"rating '{raw}' {rule}"
        )
        raise fail(table.name, table.line(row), problem)
    return np.round(doubled).astype(np.int64)


def timestamps_column(table: Table, column: str) -> list[datetime]:
    seconds = int_column(table, column, minimum=0).to_numpy(dtype=np.int64)
    return [datetime.fromtimestamp(s, UTC) for s in seconds.tolist()]


def require_unique(table: Table, ids: pd.Series, label: str) -> None:
    dup = ids.duplicated().to_numpy()
    row = _first_bad(table, dup)
    if row is not None:
        raise fail(table.name, table.line(row), f"{label} {ids.iloc[row]} appears twice")


def require_known(
    table: Table, ids: pd.Series, known: Iterable[int], label: str, where: str
) -> None:
    unknown = ~ids.isin(pd.Index(list(known))).to_numpy()
    row = _first_bad(table, unknown)
    if row is not None:
        raise fail(table.name, table.line(row), f"{label} {ids.iloc[row]} is not in {where}")


def clip_text(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


# --------------------------------------------------------------------------- the catalog


@dataclass
class CatalogData:
    """One validated dataset, in the database's terms, ready to write."""

    source: str
    books: pd.DataFrame  # id, title, authors, year, isbn, cover_url (Python values)
    book_lines: Table  # where each book came from, for conflict messages
    users: pd.DataFrame  # id, username
    ratings: pd.DataFrame  # user_id, book_id, half_stars, created_at (datetime)
    categories: list[str] = field(default_factory=list)
    book_categories: list[tuple[int, str]] = field(default_factory=list)


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


def _check_conflicts(conn: Connection, data: CatalogData) -> None:
    book = Book.__table__  # type: ignore[attr-defined]
    user = User.__table__  # type: ignore[attr-defined]
    ids = data.books["id"].tolist()
    titles = dict(zip(ids, data.books["title"].tolist(), strict=True))
    position = {book_id: i for i, book_id in enumerate(ids)}
    for book_id, title in _lookup(conn, book.c.id, ids, book.c.id, book.c.title):
        if title != titles[book_id]:
            raise fail(
                data.book_lines.name,
                data.book_lines.line(position[book_id]),
                f"book id {book_id} is already '{title}' in the database, not "
                f"'{titles[book_id]}': the database holds another catalog "
                "(import into an empty database)",
            )

    names = dict(zip(data.users["id"].tolist(), data.users["username"].tolist(), strict=True))
    for user_id, key in _lookup(conn, user.c.id, list(names), user.c.id, user.c.username_key):
        if key != names[user_id].lower():
            raise ImportFailed(
                f"user id {user_id} is already '{key}' in the database, not "
                f"'{names[user_id]}': the database holds other users (import into an empty "
                "database)"
            )
    ids_by_key = {name.lower(): user_id for user_id, name in names.items()}
    for user_id, key in _lookup(
        conn, user.c.username_key, list(ids_by_key), user.c.id, user.c.username_key
    ):
        if user_id != ids_by_key[key]:
            raise ImportFailed(
                f"username '{key}' already belongs to user id {user_id}, not "
                f"{ids_by_key[key]}: the database holds other users"
            )


def _bulk(conn: Connection, table: sa.Table, rows: list[dict[str, Any]], bar: tqdm) -> None:
    stmt = upsert_insert(conn.dialect.name)(table).on_conflict_do_nothing()
    for start in range(0, len(rows), CHUNK_ROWS):
        chunk = rows[start : start + CHUNK_ROWS]
        conn.execute(stmt, chunk)
        bar.update(len(chunk))


def write_catalog(
    engine: Engine, data: CatalogData, *, progress: bool, started: float
) -> ImportReport:
    book = Book.__table__  # type: ignore[attr-defined]
    category = Category.__table__  # type: ignore[attr-defined]
    book_category = BookCategory.__table__  # type: ignore[attr-defined]
    user = User.__table__  # type: ignore[attr-defined]
    rating = Rating.__table__  # type: ignore[attr-defined]
    now = datetime.now(UTC)

    book_rows = data.books.to_dict("records")
    user_rows = [
        {
            "id": user_id,
            "username": name,
            "username_key": name.lower(),
            "password_hash": None,
            "is_admin": False,
            "created_at": now,
        }
        for user_id, name in zip(
            data.users["id"].tolist(), data.users["username"].tolist(), strict=True
        )
    ]
    r = data.ratings

    def rating_rows(start: int) -> list[dict[str, Any]]:
        # Built a chunk at a time: millions of dicts at once would cost gigabytes.
        part = r.iloc[start : start + CHUNK_ROWS]
        return [
            {"user_id": u, "book_id": b, "half_stars": h, "created_at": t, "updated_at": t}
            for u, b, h, t in zip(
                part["user_id"].tolist(),
                part["book_id"].tolist(),
                part["half_stars"].tolist(),
                part["created_at"].tolist(),
                strict=True,
            )
        ]

    total = len(book_rows) + len(user_rows) + len(r) + len(data.book_categories)
    report = ImportReport(source=data.source)

    with (
        engine.execution_options(**{IMMEDIATE: True}).begin() as conn,
        tqdm(
            total=total,
            desc=f"import {data.source}",
            unit="row",
            unit_scale=True,
            file=sys.stderr,
            disable=not progress,
        ) as bar,
    ):
        before = {t.name: _count(conn, t) for t in (book, category, book_category, user, rating)}
        _check_conflicts(conn, data)

        _bulk(conn, book, book_rows, bar)

        existing = dict(
            _lookup(conn, category.c.name, data.categories, category.c.name, category.c.id)
        )
        new_names = [name for name in data.categories if name not in existing]
        if new_names:
            conn.execute(
                upsert_insert(conn.dialect.name)(category).on_conflict_do_nothing(),
                [{"name": n} for n in new_names],
            )
            existing.update(
                dict(_lookup(conn, category.c.name, new_names, category.c.name, category.c.id))
            )
        links = [
            {"book_id": book_id, "category_id": existing[name]}
            for book_id, name in data.book_categories
        ]
        _bulk(conn, book_category, links, bar)
        _bulk(conn, user, user_rows, bar)
        for start in range(0, len(r), CHUNK_ROWS):
            _bulk(conn, rating, rating_rows(start), bar)

        advance_sequences(conn)
        after = {t.name: _count(conn, t) for t in (book, category, book_category, user, rating)}

    def added(table: sa.Table) -> int:
        return after[table.name] - before[table.name]

    report.books_inserted = added(book)
    report.books_skipped = len(book_rows) - report.books_inserted
    report.categories_inserted = added(category)
    report.categories_skipped = len(data.categories) - report.categories_inserted
    report.book_categories_inserted = added(book_category)
    report.users_inserted = added(user)
    report.users_skipped = len(user_rows) - report.users_inserted
    report.ratings_inserted = added(rating)
    report.ratings_skipped = len(r) - report.ratings_inserted
    report.seconds = time.perf_counter() - started
    return report


def ratings_frame(
    user_ids: pd.Series,
    book_ids: pd.Series,
    half_stars: np.ndarray,
    created_at: list[datetime] | None,
) -> pd.DataFrame:
    """Ratings in write order; a repeated (user, book) pair keeps its first line."""
    frame = pd.DataFrame(
        {
            "user_id": user_ids.to_numpy(dtype=np.int64),
            "book_id": book_ids.to_numpy(dtype=np.int64),
            "half_stars": half_stars,
        }
    )
    stamps = created_at if created_at is not None else [datetime.now(UTC)] * len(frame)
    # object dtype keeps plain aware datetimes (not pandas Timestamps) for the driver.
    frame["created_at"] = pd.Series(stamps, index=frame.index, dtype=object)
    return frame.drop_duplicates(["user_id", "book_id"], keep="first")


def users_frame(user_ids: pd.Series, prefix: str) -> pd.DataFrame:
    ids = np.unique(user_ids.to_numpy(dtype=np.int64))
    return pd.DataFrame({"id": ids, "username": [f"{prefix}-{i}" for i in ids.tolist()]})


def optional_year(values: pd.Series) -> list[int | None]:
    return [None if pd.isna(v) else int(v) for v in values.tolist()]
