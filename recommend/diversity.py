"""Re-ranking that trades score for variety: maximal marginal relevance (Carbonell and
Goldstein, 1998).

Picks are chosen one at a time; each next one maximises

    (1 - diversity) * relevance - diversity * (its highest similarity to a pick already chosen)

where relevance is the candidate's score scaled to [0, 1] within the candidate pool. With
diversity 0 that is the score order; with 1 only variety counts (the first pick is still the
best one). Similarity is the cosine of the model's book vectors for the model's picks, and
the Jaccard overlap of categories for the popularity fallbacks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

# Candidates considered per pick wanted when re-ranking: enough variety to choose from,
# few enough that the pairwise similarities stay cheap.
POOL_FACTOR = 4
MAX_POOL = 200


def pool_size(k: int, diversity: float) -> int:
    """How many candidates a step should rank for `k` picks."""
    return k if diversity <= 0 else min(MAX_POOL, max(k, k * POOL_FACTOR))


def select(
    scores: Sequence[float],
    k: int,
    diversity: float,
    similarity: np.ndarray,
    chosen_similarity: np.ndarray | None = None,
) -> list[int]:
    """Positions of the `k` candidates MMR picks, in the order picked.

    `similarity` is the candidates' [n, n] similarity matrix; `chosen_similarity` an [n, m]
    matrix of their similarity to m picks made earlier (by a previous step of the chain), so
    a fallback step also keeps away from what the list already holds."""
    n = len(scores)
    if n == 0 or k <= 0:
        return []
    if diversity <= 0:
        return list(range(min(k, n)))
    values = np.asarray(scores, dtype=np.float64)
    spread = values.max() - values.min()
    relevance = (values - values.min()) / spread if spread > 0 else np.ones(n)
    nearest = (
        np.full(n, -np.inf)
        if chosen_similarity is None or not chosen_similarity.size
        else (chosen_similarity.max(axis=1).astype(np.float64))
    )
    picked: list[int] = []
    available = np.ones(n, dtype=bool)
    for _ in range(min(k, n)):
        penalty = np.where(np.isfinite(nearest), nearest, 0.0)
        gain = (1 - diversity) * relevance - diversity * penalty
        gain[~available] = -np.inf
        best = int(np.argmax(gain))  # ties: the better-scored (earlier) candidate
        picked.append(best)
        available[best] = False
        nearest = np.maximum(nearest, similarity[:, best])
    return picked


def cosine_matrix(vectors: np.ndarray, others: np.ndarray | None = None) -> np.ndarray:
    """Cosine similarities of unit vectors (rows), to themselves or to `others`."""
    return vectors @ (vectors if others is None else others).T


def jaccard_matrix(
    categories: Callable[[int], frozenset[int]],
    book_ids: Sequence[int],
    others: Sequence[int] | None = None,
) -> np.ndarray:
    """Category overlap |A & B| / |A | B| between books (0 where either has none)."""
    rows = [categories(b) for b in book_ids]
    cols = rows if others is None else [categories(b) for b in others]
    out = np.zeros((len(rows), len(cols)))
    for i, mine in enumerate(rows):
        if not mine:
            continue
        for j, theirs in enumerate(cols):
            if theirs:
                out[i, j] = len(mine & theirs) / len(mine | theirs)
    return out
