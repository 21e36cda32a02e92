"""The recommendation chain: model, fold-in, category popularity, popularity.

Plain functions over a loaded model snapshot and a popularity snapshot; they block (ONNX
runs, numpy) and are called from a worker thread."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

from db.popularity import PopularityIndex
from inference import Recommender

GOOD_STARS = 4.0  # "because you rated X" only cites books the reader liked


class Source(Enum):
    MODEL = "MODEL"
    FOLD_IN = "FOLD_IN"
    CATEGORY_POPULAR = "CATEGORY_POPULAR"
    POPULAR = "POPULAR"


@dataclass(frozen=True)
class Pick:
    book_id: int
    score: float
    source: Source
    predicted_stars: float | None = None
    because_id: int | None = None


@dataclass(frozen=True)
class Reader:
    user_id: int
    history: Sequence[tuple[int, float]]  # (book id, stars)
    disliked: frozenset[int]
    category_ids: frozenset[int]

    @property
    def excluded(self) -> set[int]:
        return {book for book, _ in self.history} | set(self.disliked)


def recommend(
    reader: Reader, k: int, model: Recommender | None, popularity: PopularityIndex
) -> list[Pick]:
    excluded = reader.excluded
    picks = _personal(reader, k, model, excluded)
    if len(picks) < k and reader.category_ids:
        picks += _popular(
            popularity,
            k - len(picks),
            excluded | _ids(picks),
            Source.CATEGORY_POPULAR,
            reader.category_ids,
        )
    if len(picks) < k:
        picks += _popular(popularity, k - len(picks), excluded | _ids(picks), Source.POPULAR)
    return picks


def similar(
    book_id: int, k: int, model: Recommender | None, popularity: PopularityIndex
) -> list[Pick]:
    picks: list[Pick] = []
    if model is not None and model.knows_book(book_id):
        picks = [Pick(b, s, Source.MODEL) for b, s in model.similar_books(book_id, k)]
    if len(picks) < k:
        taken = _ids(picks) | {book_id}
        picks += [
            Pick(b, s, Source.CATEGORY_POPULAR)
            for b, s in popularity.category_neighbours(book_id, k - len(picks), exclude=taken)
        ]
    return picks


def _ids(picks: Sequence[Pick]) -> set[int]:
    return {p.book_id for p in picks}


def _popular(
    popularity: PopularityIndex,
    k: int,
    excluded: set[int],
    source: Source,
    category_ids: frozenset[int] | None = None,
) -> list[Pick]:
    return [Pick(b, s, source) for b, s in popularity.top(k, excluded, category_ids)]


def _personal(reader: Reader, k: int, model: Recommender | None, excluded: set[int]) -> list[Pick]:
    if model is None:
        return []
    if model.knows_user(reader.user_id):
        ranked = model.recommend(reader.user_id, k, exclude=excluded)
        stars = model.predict_stars([reader.user_id] * len(ranked), [b for b, _ in ranked])
        source = Source.MODEL
    else:
        known = [(b, s) for b, s in reader.history if model.knows_book(b)]
        if not known:
            return []
        ranked = model.recommend_for_history(known, k, exclude=excluded)
        stars = model.predict_stars_for_history(known, [b for b, _ in ranked])
        source = Source.FOLD_IN
    liked = _liked(reader.history, model)
    return [
        Pick(
            book_id=book,
            score=float(score),
            source=source,
            predicted_stars=None if np.isnan(star) else round(float(star), 2),
            because_id=model.most_similar_among(book, liked) if liked else None,
        )
        for (book, score), star in zip(ranked, stars, strict=True)
    ]


def _liked(history: Sequence[tuple[int, float]], model: Recommender) -> list[int]:
    known = [(b, s) for b, s in history if model.knows_book(b)]
    liked = [b for b, s in known if s >= GOOD_STARS]
    if liked:
        return liked
    best = max((s for _, s in known), default=None)
    return [b for b, s in known if s == best]
