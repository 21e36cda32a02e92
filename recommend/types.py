"""The chain's vocabulary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum


class Source(Enum):
    """Which step of the recommendation chain produced a pick."""

    MODEL = "MODEL"  # the model's own vector for a reader it was trained on
    FOLD_IN = "FOLD_IN"  # a vector folded in from the ratings of a reader it never saw
    CATEGORY_POPULAR = "CATEGORY_POPULAR"  # popular books of the reader's chosen categories
    POPULAR = "POPULAR"  # popular books overall


@dataclass(frozen=True)
class ReaderState:
    """What recommending for a reader needs from the database, read in one go."""

    user_id: int
    history: Sequence[tuple[int, float]]  # (book id, stars)
    disliked: frozenset[int]
    category_ids: frozenset[int]

    @property
    def excluded(self) -> set[int]:
        """Books never recommended to this reader: rated or disliked."""
        return {book for book, _ in self.history} | set(self.disliked)


@dataclass(frozen=True)
class Request:
    """What the client asked for. Filters and re-ranking options belong here."""

    k: int
    explain: bool = True  # work out `because_id` (a client that does not show it saves the work)


@dataclass(frozen=True)
class Pick:
    book_id: int
    score: float
    source: Source
    predicted_stars: float | None = None
    because_id: int | None = None
