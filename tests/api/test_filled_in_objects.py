"""`Book.from_row` and `Recommendation.from_domain` fill in their objects' dicts instead of
calling the dataclass's __init__: the objects are the same as __init__ makes, and a field
added to either type without the filling in knowing of it fails at import, not per request."""

from __future__ import annotations

import dataclasses

import pytest
import strawberry

from db.catalog import BookRow, CategoryRow, RatingStats
from recommend import Pick, Recommended, Source
from schema.execution import NOT_READ
from schema.recommendations import Recommendation
from schema.types import Book, Category, Feedback, filled_in_defaults

ROW = BookRow(7, "Dune", "Frank Herbert", 1965, None, "Sand.", None, 3, False)
BECAUSE = BookRow(9, "Emma", "Jane Austen", 1815, "123", None, "http://x/c.jpg", 0, False)


def _by_init(row: BookRow, **extra: object) -> Book:
    values = {**row._asdict(), "id": strawberry.ID(str(row.id)), **extra}
    return Book(**values)  # type: ignore[arg-type]


def test_a_book_is_what_its_init_makes() -> None:
    assert Book.from_row(ROW) == _by_init(ROW)
    assert Book.from_row(ROW).prefetched_average is NOT_READ
    full = Book.from_row(
        ROW,
        [CategoryRow(1, "Sci-fi")],
        RatingStats(4.5, 2),
        my_half_stars={7: 9},
        my_feedback={7: Feedback.LIKED.value},
    )
    assert full == _by_init(
        ROW,
        prefetched_categories=[Category(id=strawberry.ID("1"), name="Sci-fi")],
        prefetched_average=4.5,
        prefetched_count=2,
        prefetched_my_rating=4.5,
        prefetched_my_feedback=Feedback.LIKED,
    )
    # Unread by the viewer: a value (None), not NOT_READ.
    unrated = Book.from_row(ROW, my_half_stars={}, my_feedback={})
    assert (unrated.prefetched_my_rating, unrated.prefetched_my_feedback) == (None, None)


def test_a_recommendation_is_what_its_init_makes() -> None:
    found = Recommended(Pick(7, 1.23456789, Source.MODEL, 4.5, 9), ROW, BECAUSE, [])
    assert Recommendation.from_domain(found, "L1") == Recommendation(
        book=Book.from_row(ROW, []),
        score=1.234568,
        predicted_stars=4.5,
        source=Source.MODEL,
        list_id=strawberry.ID("L1"),
        because=Book.from_row(BECAUSE),
    )


@dataclasses.dataclass
class _Shape:
    a: int
    b: int = 2
    c: list[int] = dataclasses.field(default_factory=list)
    d: int = dataclasses.field(default=0, init=False)


def test_a_drift_between_the_filling_in_and_the_fields_is_refused() -> None:
    with pytest.raises(TypeError, match="'c' has a default_factory and is not given"):
        filled_in_defaults(_Shape, ["a"])
    with pytest.raises(TypeError, match="'z' is not a field"):
        filled_in_defaults(_Shape, ["a", "c", "z"])
    with pytest.raises(TypeError, match="'a' has no default and is not given"):
        filled_in_defaults(_Shape, ["c"])
    assert filled_in_defaults(_Shape, ["a", "c"]) == {"b": 2}  # d is not an __init__ field
