"""The recommendation chain: model (or fold-in), then category popularity, then popularity.

Each step tops up what the steps before it left short, never repeating a book or offering
one the reader rated or disliked, one the request excludes, or one staff hid (masked
before every top-k, so a list still has k books); with a category, every step
only considers that category's books (the model ranks inside it: a mask before the top-k).
With diversity, each step ranks a larger pool and picks from it by maximal marginal
relevance (`recommend.diversity`). Plain functions over a loaded model and a popularity
snapshot; they block (ONNX runs, numpy) and run in the service's one trip (see `service`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

import recommend.diversity as mmr
from db.popularity import PopularityIndex
from inference import Recommender
from recommend.types import Pick, ReaderState, Request, Source

GOOD_STARS = 4.0  # "because you rated X" only cites books the reader liked


def recommend(
    reader: ReaderState, request: Request, model: Recommender | None, popularity: PopularityIndex
) -> list[Pick]:
    k = request.k
    excluded = reader.excluded | request.exclude | request.hidden
    allowed = None if request.category_id is None else popularity.in_category(request.category_id)
    picks = _personal(reader, request, model, excluded, allowed)
    if len(picks) < k and reader.category_ids:
        picks += _popular(
            popularity,
            request,
            k - len(picks),
            excluded,
            picks,
            Source.CATEGORY_POPULAR,
            reader.category_ids,
        )
    if len(picks) < k:
        picks += _popular(popularity, request, k - len(picks), excluded, picks, Source.POPULAR)
    return picks


def similar(
    book_id: int, request: Request, model: Recommender | None, popularity: PopularityIndex
) -> list[Pick]:
    """Nearest books in the model's space, topped up with books sharing categories; the
    request's category and exclusions apply to both."""
    k = request.k
    allowed = None if request.category_id is None else popularity.in_category(request.category_id)
    excluded = request.exclude | request.hidden
    picks: list[Pick] = []
    if model is not None and model.knows_book(book_id):
        found = model.similar_books(book_id, k, exclude=excluded, allowed=allowed)
        picks = [Pick(b, s, Source.MODEL) for b, s in found]
    if len(picks) < k:
        taken = _ids(picks) | {book_id} | excluded
        picks += [
            Pick(b, s, Source.CATEGORY_POPULAR)
            for b, s in popularity.category_neighbours(
                book_id, k - len(picks), exclude=taken, within=request.category_id
            )
        ]
    return picks


def _ids(picks: Sequence[Pick]) -> set[int]:
    return {p.book_id for p in picks}


def _popular(
    popularity: PopularityIndex,
    request: Request,
    k: int,
    excluded: set[int],
    so_far: list[Pick],
    source: Source,
    category_ids: frozenset[int] | None = None,
) -> list[Pick]:
    found = popularity.top(
        mmr.pool_size(k, request.diversity),
        excluded | _ids(so_far),
        category_ids,
        within=request.category_id,
    )
    if request.diversity > 0 and found:
        categories = popularity.categories_of
        ids = [b for b, _ in found]
        chosen = mmr.select(
            [s for _, s in found],
            k,
            request.diversity,
            mmr.jaccard_matrix(categories, ids),
            mmr.jaccard_matrix(categories, ids, [p.book_id for p in so_far]),
        )
        found = [found[i] for i in chosen]
    return [Pick(b, s, source) for b, s in found[:k]]


def _personal(
    reader: ReaderState,
    request: Request,
    model: Recommender | None,
    excluded: set[int],
    allowed: np.ndarray | None,
) -> list[Pick]:
    if model is None:
        return []
    pool = mmr.pool_size(request.k, request.diversity)
    if model.knows_user(reader.user_id):
        changed = (
            model.changed_history(reader.user_id, reader.history) if model.can_refresh else None
        )
        if changed is not None:
            # Rated since the model was trained: the list follows the current ratings.
            ranked = model.rank_refreshed(
                reader.user_id,
                reader.history,
                pool,
                exclude=excluded,
                allowed=allowed,
                fingerprint=changed,
            )
            source = Source.REFRESHED
        else:
            ranked = model.rank_user(reader.user_id, pool, exclude=excluded, allowed=allowed)
            source = Source.MODEL
    else:
        known_books = model.known_books
        rated = [(b, s) for b, s in reader.history if b in known_books]
        if not rated:
            return []
        ranked = model.rank_history(rated, pool, exclude=excluded, allowed=allowed)
        source = Source.FOLD_IN
    if request.diversity > 0 and ranked:
        unit = model.similarity.vectors([book for book, _, _ in ranked])
        chosen = mmr.select(
            [score for _, score, _ in ranked], request.k, request.diversity, mmr.cosine_matrix(unit)
        )
        ranked = [ranked[i] for i in chosen]
    ranked = ranked[: request.k]
    becauses: Sequence[int | None] = (
        _becauses([book for book, _, _ in ranked], reader, model, request.hidden)
        if request.explain and ranked
        else [None] * len(ranked)
    )
    return [
        Pick(book, score, source, _stars(stars), because)
        for (book, score, stars), because in zip(ranked, becauses, strict=True)
    ]


def _becauses(
    book_ids: list[int], reader: ReaderState, model: Recommender, hidden: frozenset[int]
) -> list[int | None]:
    """For each model pick, the reader's liked book most like it ("because you rated X");
    never a hidden book (its rating still shapes the list, but it is not shown)."""
    return model.most_similar_each(book_ids, _liked(reader.history, model, hidden))


def _stars(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 2)


def _liked(
    history: Sequence[tuple[int, float]], model: Recommender, hidden: frozenset[int]
) -> list[int]:
    """The reader's books the model knows (hidden ones left out) that may explain a pick:
    those rated GOOD_STARS or more, else their best-rated ones."""
    known_books = model.known_books
    known = [(b, s) for b, s in history if b in known_books and b not in hidden]
    if not known:
        return []
    good = [b for b, s in known if s >= GOOD_STARS]
    if good:
        return good
    best = max(s for _, s in known)
    return [b for b, s in known if s == best]
