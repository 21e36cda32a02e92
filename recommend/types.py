"""The chain's vocabulary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum


class Source(Enum):
    """Which step of the recommendation chain produced a pick."""

    MODEL = "MODEL"  # the model's own vector for a reader it was trained on
    REFRESHED = "REFRESHED"  # a reader it was trained on who rated since: their current ratings
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
    """What the client asked for: every step of the chain applies all of it."""

    k: int
    explain: bool = True  # work out `because_id` (a client that does not show it saves the work)
    category_id: int | None = None  # only books of this category, ranked inside it
    exclude: frozenset[int] = frozenset()  # books the client already shows, never offered
    diversity: float = 0.0  # 0: best scores first; up to 1: trades score for variety (MMR)
    after: str | None = None  # the id of a list to continue: its next best books, none repeated
    # Books staff hid: never offered by any step, never cited as `because`. Set by the
    # service from the request's own trip (never from a cache), not by the client.
    hidden: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Pick:
    book_id: int
    score: float
    source: Source
    predicted_stars: float | None = None
    because_id: int | None = None
