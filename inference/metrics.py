"""Rating and top-k ranking metrics in plain numpy (no TensorFlow).

Conventions (the ones the hand-computed tests pin down):
- ``ranked`` is a model's top-k list of book ids, best first; ``relevant`` a set of book ids.
- nDCG@k: binary gains, DCG = sum(1 / log2(rank + 1)) over hits (rank from 1); the ideal DCG
  puts min(|relevant|, k) hits first.
- Precision@k = hits / k; Recall@k = hits / |relevant|.
- MAP@k: average precision truncated at k, normalised by min(|relevant|, k).
Users with no relevant books are skipped by the caller.

Also the one top-k: serving, evaluation and early stopping all rank with `top_k` /
`top_k_rows`, and the batched `ndcg_rows` is `ndcg_at_k` over a matrix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest finite scores, best first (one argpartition). Excluded
    entries (-inf) never fill a list."""
    k = min(k, scores.size)
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    best = part[np.argsort(-scores[part], kind="stable")]
    return best[np.isfinite(scores[best])]


def top_k_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """`top_k` for every row of a [users, items] matrix at once: [users, k] indices, best
    first (rows are not trimmed of -inf entries)."""
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, 1), axis=1, kind="stable")
    return np.take_along_axis(top, order, 1)


def ndcg_rows(hits: np.ndarray, n_relevant: np.ndarray) -> np.ndarray:
    """nDCG@k per row from a [users, k] 0/1 matrix of hits in ranked order and each row's
    number of relevant items (rows with none give NaN; the caller skips them)."""
    k = hits.shape[1]
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.concatenate([[np.nan], np.cumsum(discounts)])[np.minimum(n_relevant, k)]
    return (hits * discounts).sum(1) / ideal


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    diff = np.asarray(y_true, dtype=np.float64) - np.asarray(y_pred, dtype=np.float64)
    return float(np.sqrt(np.mean(diff**2)))


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    diff = np.asarray(y_true, dtype=np.float64) - np.asarray(y_pred, dtype=np.float64)
    return float(np.mean(np.abs(diff)))


def _hits(ranked: Sequence[int], relevant: Iterable[int], k: int) -> np.ndarray:
    rel = set(relevant)
    return np.array([1.0 if b in rel else 0.0 for b in list(ranked)[:k]], dtype=np.float64)


def ndcg_at_k(ranked: Sequence[int], relevant: Iterable[int], k: int = 10) -> float:
    rel = set(relevant)
    if not rel:
        return 0.0
    hits = _hits(ranked, rel, k)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = float(np.sum(hits * discounts[: hits.size]))
    idcg = float(np.sum(discounts[: min(len(rel), k)]))
    return dcg / idcg


def precision_at_k(ranked: Sequence[int], relevant: Iterable[int], k: int = 10) -> float:
    return float(_hits(ranked, relevant, k).sum()) / k


def recall_at_k(ranked: Sequence[int], relevant: Iterable[int], k: int = 10) -> float:
    rel = set(relevant)
    if not rel:
        return 0.0
    return float(_hits(ranked, rel, k).sum()) / len(rel)


def average_precision_at_k(ranked: Sequence[int], relevant: Iterable[int], k: int = 10) -> float:
    rel = set(relevant)
    if not rel:
        return 0.0
    hits = _hits(ranked, rel, k)
    if hits.sum() == 0:
        return 0.0
    precisions = np.cumsum(hits) / np.arange(1, hits.size + 1)
    return float(np.sum(precisions * hits)) / min(len(rel), k)


def ranking_metrics(
    rankings: Mapping[int, Sequence[int]], relevant: Mapping[int, set[int]], k: int = 10
) -> dict[str, float]:
    """Mean nDCG/P/R/MAP@k over users present in both mappings with >= 1 relevant book."""
    users = [u for u in relevant if relevant[u] and u in rankings]
    if not users:
        return {f"ndcg@{k}": 0.0, f"p@{k}": 0.0, f"r@{k}": 0.0, f"map@{k}": 0.0, "users": 0}
    return {
        f"ndcg@{k}": float(np.mean([ndcg_at_k(rankings[u], relevant[u], k) for u in users])),
        f"p@{k}": float(np.mean([precision_at_k(rankings[u], relevant[u], k) for u in users])),
        f"r@{k}": float(np.mean([recall_at_k(rankings[u], relevant[u], k) for u in users])),
        f"map@{k}": float(
            np.mean([average_precision_at_k(rankings[u], relevant[u], k) for u in users])
        ),
        "users": len(users),
    }
