"""`Category.from_row` shares one object per (id, name): a renamed category is a new object
with the new name, never the old one."""

from __future__ import annotations

from db.catalog import CategoryRow
from schema import types
from schema.types import Category


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
