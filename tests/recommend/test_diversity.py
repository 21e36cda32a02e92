"""Maximal marginal relevance on hand-checked cases."""

from __future__ import annotations

import numpy as np

from recommend.diversity import jaccard_matrix, pool_size, select

# Three near-duplicates (0, 1, 2) and one different book (3), best scores first.
SCORES = [1.0, 0.9, 0.8, 0.5]
SIMILAR = np.array(
    [
        [1.0, 0.95, 0.9, 0.0],
        [0.95, 1.0, 0.9, 0.0],
        [0.9, 0.9, 1.0, 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ]
)


def test_no_diversity_is_the_score_order() -> None:
    assert select(SCORES, 3, 0.0, SIMILAR) == [0, 1, 2]
    assert pool_size(10, 0.0) == 10


def test_diversity_brings_the_different_book_forward() -> None:
    # relevance = [1, 0.8, 0.6, 0]; at 0.5 the second pick is book 3:
    # book 1: 0.5 * 0.8 - 0.5 * 0.95 = -0.075; book 3: 0.5 * 0 - 0.5 * 0 = 0
    assert select(SCORES, 2, 0.5, SIMILAR) == [0, 3]
    # a little diversity keeps the near-duplicate: 0.9 * 0.8 - 0.1 * 0.95 = 0.625 > 0
    assert select(SCORES, 2, 0.1, SIMILAR) == [0, 1]


def test_picks_made_earlier_count_against_a_fallback_step() -> None:
    earlier = np.array([[1.0], [1.0], [1.0], [0.0]])  # an earlier pick like books 0-2
    assert select(SCORES, 1, 0.6, SIMILAR, earlier) == [3]  # 0.4 * 1 - 0.6 * 1 < 0


def test_jaccard_of_categories() -> None:
    cats = {1: frozenset({1, 2}), 2: frozenset({2}), 3: frozenset()}
    m = jaccard_matrix(lambda b: cats[b], [1, 2, 3])
    np.testing.assert_allclose(m, [[1.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 0.0]])
    assert pool_size(10, 0.3) == 40 and pool_size(100, 1.0) == 200
