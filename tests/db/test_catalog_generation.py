"""The catalog's generation (migration 0012) and the rows servers keep while it holds
(db.catalog_cache), on SQLite and PostgreSQL: every change a list shows is counted, in the
writing transaction, whoever writes it; a like is not, and its count is read fresh."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from db import catalog
from db.catalog import BookRow
from db.catalog_cache import CatalogCache
from db.fastread import FastReads

# A new value per column of a book row (the columns every book read returns).
NEW_VALUES = {
    "id": 99,
    "title": "Renamed",
    "authors": "Someone Else",
    "year": 1999,
    "isbn": "9780000000002",
    "description": "Another description",
    "cover_url": "https://example.org/other.jpg",
    "hidden": True,
}


@pytest.fixture
def shop(engine: sa.Engine) -> sa.Engine:
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO category (id, name) VALUES (1, 'Fantasy'), (2, 'Crime')"))
        conn.execute(
            sa.text(
                "INSERT INTO book (id, title, authors, year, isbn, description, cover_url) VALUES "
                "(1, 'One', 'A', 2001, '9780000000001', 'd', 'https://example.org/1.jpg'), "
                "(2, 'Two', 'B', 2002, NULL, NULL, NULL)"
            )
        )
        conn.execute(sa.text("INSERT INTO book_category (book_id, category_id) VALUES (1, 1)"))
    return engine


def generation(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT generation FROM catalog_state")).scalar_one())


def changes(engine: sa.Engine, *statements: str) -> int:
    """How much the generation moved over these statements, run in one transaction."""
    before = generation(engine)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))
    return generation(engine) - before


def test_every_column_a_list_shows_is_counted_and_a_like_count_is_not(shop: sa.Engine) -> None:
    assert set(NEW_VALUES) == set(BookRow._fields) - {"like_count"}  # a new column: add it
    for column, value in NEW_VALUES.items():
        before = generation(shop)
        with shop.begin() as conn:
            conn.execute(
                sa.text(f"UPDATE book SET {column} = :v WHERE id = 2"),
                {"v": value},
            )
        assert generation(shop) > before, f"changing book.{column} was not counted"
        with shop.begin() as conn:  # back to book 2 for the next column
            conn.execute(sa.text("UPDATE book SET id = 2 WHERE id = 99"))
    assert changes(shop, "UPDATE book SET like_count = like_count + 1 WHERE id = 1") == 0


@pytest.mark.parametrize(
    "statements",
    [
        ["INSERT INTO book (id, title) VALUES (3, 'Three')"],
        ["DELETE FROM book_category WHERE book_id = 1", "DELETE FROM book WHERE id = 1"],
        ["INSERT INTO book_category (book_id, category_id) VALUES (2, 2)"],
        ["UPDATE book_category SET category_id = 2 WHERE book_id = 1"],
        ["DELETE FROM book_category WHERE book_id = 1"],
        ["UPDATE category SET name = 'High Fantasy' WHERE id = 1"],
        ["DELETE FROM category WHERE id = 2"],
    ],
    ids=[
        "new book",
        "book deleted",
        "link added",
        "link moved",
        "link removed",
        "category renamed",
        "category deleted",
    ],
)
def test_catalog_changes_are_counted(shop: sa.Engine, statements: list[str]) -> None:
    assert changes(shop, *statements) >= 1


def test_a_rolled_back_change_is_not_counted(shop: sa.Engine) -> None:
    before = generation(shop)
    with shop.connect() as conn:
        conn.begin()
        conn.execute(sa.text("UPDATE book SET title = 'Never' WHERE id = 1"))
        conn.rollback()
    assert generation(shop) == before


def read(cache: CatalogCache, engine: sa.Engine, with_like_counts: bool = False):  # type: ignore[no-untyped-def]
    with FastReads.open(engine) as db:
        trip = cache.trip(db)
        return trip.books([1, 2, 5], with_like_counts), trip.categories([1, 2]), trip.hidden()


def test_kept_rows_follow_every_change_and_likes_are_read_when_asked(shop: sa.Engine) -> None:
    cache = CatalogCache()
    books, categories, hidden = read(cache, shop)
    assert [books[1].title, books[2].title] == ["One", "Two"] and 5 not in books
    assert [c.name for c in categories[1]] == ["Fantasy"] and categories[2] == [] and not hidden
    # Kept: the same objects come back while the generation holds.
    again = read(cache, shop)
    assert again[0][1] is books[1] and again[1][1] is categories[1] and again[2] is hidden

    with shop.begin() as conn:  # written around the service, as a tool would
        conn.execute(
            sa.text("UPDATE book SET title = 'Uno', hidden = :t WHERE id = 1"), {"t": True}
        )
        conn.execute(sa.text("UPDATE category SET name = 'Epic' WHERE id = 1"))
        conn.execute(sa.text("INSERT INTO book_category (book_id, category_id) VALUES (2, 2)"))
        conn.execute(sa.text("INSERT INTO book (id, title) VALUES (5, 'Five')"))
    books, categories, hidden = read(cache, shop)
    assert (books[1].title, books[1].hidden, books[5].title) == ("Uno", True, "Five")
    assert [c.name for c in categories[1]] == ["Epic"] and [c.name for c in categories[2]] == [
        "Crime"
    ]
    assert hidden == frozenset({1})

    with shop.begin() as conn:
        conn.execute(sa.text("UPDATE book SET like_count = 7 WHERE id = 2"))
    assert read(cache, shop)[0][2].like_count == 0  # not asked for: as kept
    assert read(cache, shop, with_like_counts=True)[0][2].like_count == 7
    assert read(cache, shop)[0][2].like_count == 0  # the fresh count is not kept over the row


def test_a_trip_of_an_older_generation_keeps_nothing(shop: sa.Engine) -> None:
    cache = CatalogCache()
    with FastReads.open(shop) as old_db:
        old = cache.trip(old_db)  # generation g, before the edit below commits
        with shop.begin() as conn:
            conn.execute(sa.text("UPDATE book SET title = 'Uno' WHERE id = 1"))
        assert read(cache, shop)[0][1].title == "Uno"  # a newer trip moves the cache on
        old.books([1, 2])  # read under g (whatever this snapshot sees), kept nowhere
    assert read(cache, shop)[0][1].title == "Uno"


def test_a_full_cache_drops_the_first_kept(shop: sa.Engine) -> None:
    cache = CatalogCache(max_books=2)
    with shop.begin() as conn:
        conn.execute(sa.text("INSERT INTO book (id, title) VALUES (3, 'Three'), (4, 'Four')"))
    for ids in ([1], [2], [3, 4]):
        with FastReads.open(shop) as db:
            cache.trip(db).books(ids)
    with FastReads.open(shop) as db:
        kept = cache.trip(db)._kept.books
    assert sorted(kept) == [3, 4]


def test_without_its_row_nothing_is_kept(shop: sa.Engine) -> None:
    with shop.begin() as conn:
        conn.execute(sa.text("DELETE FROM catalog_state"))
    cache = CatalogCache()
    with FastReads.open(shop) as db:
        assert catalog.catalog_generation(db) is None
    assert read(cache, shop)[0][1].title == "One"
    with shop.begin() as conn:
        conn.execute(sa.text("UPDATE book SET title = 'Uno' WHERE id = 1"))
    assert read(cache, shop)[0][1].title == "Uno"


def test_a_cache_of_no_books_keeps_none(shop: sa.Engine) -> None:
    cache = CatalogCache(max_books=0)
    books, categories, _ = read(cache, shop)
    assert sorted(books) == [1, 2] and sorted(categories) == [1, 2]
    with FastReads.open(shop) as db:
        kept = cache.trip(db)._kept
    assert kept.books == {} and kept.categories == {}
