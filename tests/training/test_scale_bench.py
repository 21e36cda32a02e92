"""bench/scale.py's pieces its figures rest on: the protocol nDCG@10 it scores implicit's ALS
with (it must be the one `bookrec train` reports), and the synthetic ratings generator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench._scale_reports import protocol_ndcg
from bench._synthetic import low_rank_stars, reader_activity, unique_pairs
from training.data import encode, normalise
from training.evaluation import most_rated_baseline
from training.split import stratified_split
from training.writer import SPLIT_SEED, TEST_FRACTION


def test_protocol_ndcg_by_hand() -> None:
    train = pd.DataFrame({"user_id": [1, 2, 3], "book_id": [10, 20, 30], "stars": [4.0] * 3})
    # reader 1 also held out book 99, which the model never saw: it counts in the ideal DCG
    test = pd.DataFrame({"user_id": [1, 1, 2], "book_id": [20, 99, 30], "stars": [5.0] * 3})
    data = encode(train)
    scores = np.array([3.0, 2.0, 1.0], dtype=np.float32)  # books 10, 20, 30
    got = protocol_ndcg(lambda ch: np.tile(scores, (ch.size, 1)), data, test)
    # reader 1: 10 excluded, 20 first (a hit), 2 relevant; reader 2: 20 excluded, 30 second
    reader_1 = 1.0 / (1.0 + 1.0 / np.log2(3))
    reader_2 = 1.0 / np.log2(3)
    assert got == pytest.approx((reader_1 + reader_2) / 2)


def test_protocol_ndcg_is_the_protocols_own(ratings: pd.DataFrame) -> None:
    train, test = stratified_split(normalise(ratings), TEST_FRACTION, SPLIT_SEED)
    data = encode(train)
    counts = np.bincount(data.books, minlength=data.n_books).astype(np.float64)
    # most-rated as a scorer; ties broken by the lower book id, as most_rated_baseline does
    scores = (counts - np.arange(data.n_books) / (2 * data.n_books)).astype(np.float32)
    got = protocol_ndcg(lambda ch: np.tile(scores, (ch.size, 1)), data, test)
    assert got == pytest.approx(most_rated_baseline(train, test)["ndcg@10"], abs=1e-9)


def test_synthetic_ratings_are_distinct_pairs_of_whole_stars() -> None:
    rng = np.random.default_rng(0)
    popularity = 1.0 / np.arange(1, 51) ** 0.9
    activity = reader_activity(rng, 40)
    users, books = unique_pairs(rng, activity, popularity / popularity.sum(), 1500)
    assert users.size == 1500
    assert np.unique(users * 50 + books).size == 1500
    assert users.max() < 40 and books.max() < 50
    stars = low_rank_stars(rng, users, books, 40, 50)
    assert set(np.unique(stars).tolist()) <= {1, 2, 3, 4, 5}
    with pytest.raises(ValueError, match="do not fit"):
        unique_pairs(rng, activity, popularity / popularity.sum(), 40 * 50 + 1)
