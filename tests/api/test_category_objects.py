"""`Category.from_row` shares one object per (id, name), and `Book.shown` one per (row,
categories): a renamed category or a changed book is a new object with the new values, never
the old one."""

from __future__ import annotations

from db.catalog import BookRow, CategoryRow
from schema import types
from schema.types import Book, Category


def test_one_object_per_id_and_name_and_a_rename_is_seen() -> None:
    fantasy = Category.from_row(CategoryRow(7, "Fantasy"))
    assert Category.from_row(CategoryRow(7, "Fantasy")) is fantasy
    renamed = Category.from_row(CategoryRow(7, "High Fantasy"))
    assert renamed is not fantasy
    assert (renamed.id, renamed.name) == ("7", "High Fantasy")
    assert (fantasy.id, fantasy.name) == ("7", "Fantasy")  # the old object is not changed


def test_the_shared_objects_are_bounded(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(types, "_CATEGORY_OBJECTS", {})
    monkeypatch.setattr(types, "_CATEGORY_OBJECTS_MAX", 3)
    for n in range(10):
        Category.from_row(CategoryRow(n, f"c{n}"))
        assert len(types._CATEGORY_OBJECTS) <= 3


def test_one_book_object_per_row_and_categories() -> None:
    row = BookRow(5, "Dune", "F. H.", 1965, None, None, None, 3, False)
    fantasy = [CategoryRow(7, "Fantasy")]
    shown = Book.shown(row, fantasy)
    assert Book.shown(BookRow(*row), [CategoryRow(7, "Fantasy")]) is shown  # equal values
    assert [c.name for c in shown.categories(None)] == ["Fantasy"]  # type: ignore[arg-type]
    liked = Book.shown(row._replace(like_count=4), fantasy)
    assert liked is not shown and (liked.like_count, shown.like_count) == (4, 3)
    assert Book.shown(row, [CategoryRow(7, "Epic")]) is not shown
    bare = Book.shown(row)  # a "because" book: no categories read
    assert bare is not shown and bare.prefetched_categories is None


def test_the_shared_books_are_bounded(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(types, "_BOOK_OBJECTS", {})
    monkeypatch.setattr(types, "_BOOK_OBJECTS_MAX", 3)
    for n in range(10):
        Book.shown(BookRow(n, f"b{n}", "", None, None, None, None, 0, False))
        assert len(types._BOOK_OBJECTS) <= 3
