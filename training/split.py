"""The evaluation protocol's per-user stratified holdout split (pure pandas/numpy)."""

from __future__ import annotations

import numpy as np
import pandas as pd

MIN_RATINGS_TO_HOLD_OUT = 4


def stratified_split(
    ratings: pd.DataFrame, test_fraction: float = 0.25, seed: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Shuffle each user's ratings with a fixed seed and hold out ``test_fraction`` of them.

    Users with fewer than 4 ratings stay entirely in training. The result does not depend on
    the row order of ``ratings`` (rows are sorted first), so the same database gives the same
    split whatever order the query returned.
    """
    frame = ratings.sort_values(["user_id", "book_id"], kind="stable").reset_index(drop=True)
    rng = np.random.default_rng(seed)
    key = rng.random(len(frame))
    order = np.lexsort((key, frame["user_id"].to_numpy()))
    frame = frame.iloc[order].reset_index(drop=True)
    users = frame["user_id"].to_numpy()
    position = frame.groupby("user_id", sort=False).cumcount().to_numpy()
    counts = frame.groupby("user_id", sort=False)["user_id"].transform("size").to_numpy()
    n_test = np.where(counts >= MIN_RATINGS_TO_HOLD_OUT, np.round(counts * test_fraction), 0)
    is_test = position < n_test
    del users
    train = frame[~is_test].sort_values(["user_id", "book_id"]).reset_index(drop=True)
    test = frame[is_test].sort_values(["user_id", "book_id"]).reset_index(drop=True)
    return train, test
