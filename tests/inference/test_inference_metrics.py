"""Every metric against cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inference.metrics import (
    average_precision_at_k,
    mae,
    ndcg_at_k,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
    rmse,
)

RANKED = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
RELEVANT = {1, 3, 11}  # hits at ranks 1 and 3; book 11 is never retrieved


def test_rmse_and_mae_by_hand() -> None:
    assert rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(math.sqrt(4 / 3))
    assert mae([1, 2, 3], [1, 2, 5]) == pytest.approx(2 / 3)
    assert rmse([4.0], [4.0]) == 0.0
    assert mae(np.array([1.0, 5.0]), np.array([2.0, 3.0])) == pytest.approx(1.5)


def test_ndcg_by_hand() -> None:
    dcg = 1 / math.log2(2) + 1 / math.log2(4)
    idcg = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(RANKED, RELEVANT, 10) == pytest.approx(dcg / idcg)  # 0.70392
    assert ndcg_at_k(RANKED, {1, 2}, 10) == pytest.approx(1.0)
    assert ndcg_at_k(RANKED, {42}, 10) == 0.0
    assert ndcg_at_k(RANKED, set(), 10) == 0.0
    # only the first k count, and the ideal is capped at k hits
    assert ndcg_at_k(RANKED, {3}, 2) == 0.0
    assert ndcg_at_k([5, 9], {9, 1, 2, 3}, 2) == pytest.approx(
        (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    )


def test_precision_and_recall_by_hand() -> None:
    assert precision_at_k(RANKED, RELEVANT, 10) == pytest.approx(0.2)
    assert recall_at_k(RANKED, RELEVANT, 10) == pytest.approx(2 / 3)
    assert precision_at_k(RANKED[:3], RELEVANT, 10) == pytest.approx(0.2)  # short list: still / k
    assert recall_at_k(RANKED, set(), 10) == 0.0


def test_map_by_hand() -> None:
    # precisions at the hits: 1/1 and 2/3, normalised by min(|relevant|, k) = 3
    assert average_precision_at_k(RANKED, RELEVANT, 10) == pytest.approx((1 + 2 / 3) / 3)
    assert average_precision_at_k([7, 1], {1}, 10) == pytest.approx(0.5)
    assert average_precision_at_k(RANKED, {42}, 10) == 0.0
    assert average_precision_at_k(list(range(20)), set(range(20)), 10) == pytest.approx(1.0)


def test_ranking_metrics_average_over_users_with_relevant_books() -> None:
    rankings = {1: RANKED, 2: [11, 12], 3: [1]}
    relevant = {1: RELEVANT, 2: {12}, 3: set()}
    out = ranking_metrics(rankings, relevant, 10)
    assert out["users"] == 2
    assert out["ndcg@10"] == pytest.approx((ndcg_at_k(RANKED, RELEVANT) + 1 / math.log2(3)) / 2)
    assert out["p@10"] == pytest.approx((0.2 + 0.1) / 2)
    assert out["r@10"] == pytest.approx((2 / 3 + 1.0) / 2)
    assert out["map@10"] == pytest.approx(((1 + 2 / 3) / 3 + 0.5) / 2)
