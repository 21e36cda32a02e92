"""Rating and top-k ranking metrics in plain numpy (no TensorFlow).

Conventions (the ones the hand-computed tests pin down):
- ``ranked`` is a model's top-k list of book ids, best first; ``relevant`` a set of book ids.
- nDCG@k: binary gains, DCG = sum(1 / log2(rank + 1)) over hits (rank from 1); the ideal DCG
  puts min(|relevant|, k) hits first.
- Precision@k = hits / k; Recall@k = hits / |relevant|.
- MAP@k: average precision truncated at k, normalised by min(|relevant|, k).
Users with no relevant books are skipped by the caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np


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
