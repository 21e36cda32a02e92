"""The database itself refuses bad ratings, through the native drivers (sqlite3, psycopg),
with no SQLAlchemy or SQLModel in between. tests/db/test_migrations.py covers the same
rules through SQLAlchemy Core; this adds the driver level, the value kinds a raw client can
send (text, fractions, NULL, blobs), cascades, and SQLite's per-connection foreign keys."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from db.engine import normalize_url

NOW = "CURRENT_TIMESTAMP"


class Raw:
    """A native DB-API connection in autocommit mode, one statement per transaction."""

    def __init__(self, url: str) -> None:
        self.kind = "sqlite" if url.startswith("sqlite") else "postgresql"
        if self.kind == "sqlite":
            path = sa.make_url(url).database
            assert path
            self.conn: Any = sqlite3.connect(path, isolation_level=None)
            # Every bookrec connection turns this on (db/engine.py); SQLite's default is off.
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.errors: tuple[type[BaseException], ...] = (sqlite3.IntegrityError,)
        else:
            import psycopg

            u = sa.make_url(normalize_url(url))
            self.conn = psycopg.connect(
                host=u.host,
                port=u.port,
                user=u.username,
                password=u.password,
                dbname=u.database,
                autocommit=True,
            )
            self.errors = (psycopg.errors.IntegrityError,)

    def execute(self, sql: str) -> list[tuple[Any, ...]]:
        cursor = self.conn.execute(sql)
        return list(cursor.fetchall()) if cursor.description else []

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def raw(database_url: str) -> Iterator[Raw]:
    conn = Raw(database_url)
    conn.execute("INSERT INTO book (id, title) VALUES (1, 'B1'), (2, 'B2')")
    conn.execute(
        "INSERT INTO app_user (id, username, username_key, created_at) "
        f"VALUES (1, 'ann', 'ann', {NOW}), (2, 'bob', 'bob', {NOW})"
    )
    conn.execute(f"INSERT INTO rating VALUES (1, 1, 8, {NOW}, {NOW})")
    yield conn
    conn.close()


def _insert(half_stars: str, user: int = 2, book: int = 1) -> str:
    return f"INSERT INTO rating VALUES ({user}, {book}, {half_stars}, {NOW}, {NOW})"


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param(_insert("0"), id="zero"),
        pytest.param(_insert("11"), id="eleven"),
        pytest.param(_insert("-4"), id="negative"),
        pytest.param(_insert("NULL"), id="null"),
        pytest.param(_insert("'abc'"), id="text"),
        pytest.param(_insert("32768"), id="overflow"),
        pytest.param("UPDATE rating SET half_stars = half_stars + 3", id="update-out-of-range"),
        pytest.param(_insert("5", user=1, book=1), id="duplicate"),
        pytest.param(_insert("5", user=9), id="orphan-user"),
        pytest.param(_insert("5", book=9), id="orphan-book"),
        pytest.param("UPDATE rating SET book_id = 9", id="update-to-orphan"),
        pytest.param(
            "INSERT INTO rating (user_id, book_id, half_stars) VALUES (2, 2, 5)", id="no-timestamps"
        ),
    ],
)
def test_bad_rating_rows_are_refused_by_the_database(raw: Raw, statement: str) -> None:
    errors: tuple[type[BaseException], ...] = raw.errors
    if raw.kind == "postgresql":
        import psycopg

        errors = (
            *errors,
            psycopg.errors.NumericValueOutOfRange,
            psycopg.errors.InvalidTextRepresentation,
        )
    with pytest.raises(errors):
        raw.execute(statement)
    assert raw.execute("SELECT user_id, book_id, half_stars FROM rating") == [(1, 1, 8)]


def test_fractional_half_stars_are_never_stored(raw: Raw) -> None:
    """Stars are whole half-stars (1..10). PostgreSQL's smallint cannot hold 4.5 (the
    assignment cast rounds it); SQLite's SMALLINT column has only integer *affinity* and
    keeps 4.5 as a REAL, which passes `BETWEEN 1 AND 10` and would read back as 2.25 stars."""
    try:
        raw.execute(_insert("4.5"))
    except raw.errors:
        return
    stored = raw.execute("SELECT half_stars FROM rating WHERE user_id = 2")
    assert all(isinstance(v, int) for (v,) in stored), stored


def test_deleting_a_reader_or_a_book_takes_its_ratings_along(raw: Raw) -> None:
    raw.execute(_insert("6", user=2, book=2))
    raw.execute(_insert("6", user=1, book=2))
    raw.execute("DELETE FROM app_user WHERE id = 2")
    assert raw.execute("SELECT user_id, book_id FROM rating ORDER BY 1, 2") == [(1, 1), (1, 2)]
    raw.execute("DELETE FROM book WHERE id = 2")
    assert raw.execute("SELECT user_id, book_id FROM rating") == [(1, 1)]


def test_sqlite_foreign_keys_are_per_connection_and_checkable(database_url: str) -> None:
    """SQLite enforces foreign keys only on connections that ask for it (every bookrec
    connection does). A tool that writes without the pragma can leave orphans; then
    `PRAGMA foreign_key_check` finds them, which is what the crash test relies on."""
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL always enforces foreign keys")
    path = sa.make_url(database_url).database
    assert path
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert conn.execute("PRAGMA foreign_keys").fetchone() == (0,)
        conn.execute(_insert("5", user=42, book=42))
        problems = conn.execute("PRAGMA foreign_key_check").fetchall()
        assert {(table, parent) for table, _, parent, _ in problems} == {
            ("rating", "app_user"),
            ("rating", "book"),
        }
    finally:
        conn.close()
