"""The recommendation chain: model (or fold-in), then category popularity, then popularity.

Each step tops up what the steps before it left short, never repeating a book or offering
one the reader rated or disliked. Plain functions over a loaded model and a popularity
snapshot; they block (ONNX runs, numpy) and run in a worker thread (see `service`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from db.popularity import PopularityIndex
from inference import Recommender
from recommend.types import Pick, ReaderState, Request, Source

GOOD_STARS = 4.0  # "because you rated X" only cites books the reader liked


def recommend(
    reader: ReaderState, request: Request, model: Recommender | None, popularity: PopularityIndex
) -> list[Pick]:
    k = request.k
    excluded = reader.excluded
    picks = _personal(reader, k, model, excluded, request.explain)
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
    """Nearest books in the model's space, topped up with books sharing categories."""
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


def _personal(
    reader: ReaderState, k: int, model: Recommender | None, excluded: set[int], explain: bool
) -> list[Pick]:
    if model is None:
        return []
    history = np.array(reader.history, dtype=np.float64).reshape(-1, 2)
    history_ids = history[:, 0].astype(np.int64)
    history_stars = history[:, 1].astype(np.float32)
    known = model.book_index(history_ids) >= 0
    if model.knows_user(reader.user_id):
        ranked = model.rank_user(reader.user_id, k, exclude=excluded)
        source = Source.MODEL
    elif known.any():
        rated = list(zip(history_ids[known].tolist(), history_stars[known].tolist(), strict=True))
        ranked = model.rank_history(rated, k, exclude=excluded)
        source = Source.FOLD_IN
    else:
        return []
    explained = (
        model.most_similar_each(
            [book for book, _, _ in ranked], _liked(history_ids[known], history_stars[known])
        )
        if explain
        else [None] * len(ranked)
    )
    return [
        Pick(book, score, source, _stars(stars), because)
        for (book, score, stars), because in zip(ranked, explained, strict=True)
    ]


def _stars(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 2)


def _liked(book_ids: np.ndarray, stars: np.ndarray) -> list[int]:
    """The reader's books that may explain a pick: those rated GOOD_STARS or more, else
    their best-rated ones."""
    if book_ids.size == 0:
        return []
    good = stars >= GOOD_STARS
    chosen = book_ids[good] if good.any() else book_ids[stars == stars.max()]
    return [int(b) for b in chosen]
