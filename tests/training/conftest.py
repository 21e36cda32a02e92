"""Tiny synthetic ratings (low-rank taste + skewed popularity) for training tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def synthetic_ratings(
    n_users: int = 40, n_books: int = 30, per_user: int = 12, seed: int = 0
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    taste = rng.normal(size=(n_users, 2))
    traits = rng.normal(size=(n_books, 2))
    popularity = 1.0 / np.arange(1, n_books + 1) ** 0.8
    rows = []
    for user in range(n_users):
        books = rng.choice(n_books, size=per_user, replace=False, p=popularity / popularity.sum())
        stars = np.clip(
            np.round(3 + taste[user] @ traits[books].T + rng.normal(0, 0.3, per_user)), 1, 5
        )
        rows += [(user + 1, int(b) * 3 + 7, float(s)) for b, s in zip(books, stars, strict=True)]
    frame = pd.DataFrame(rows, columns=["user_id", "book_id", "stars"])
    return frame.astype({"user_id": "int64", "book_id": "int64", "stars": "float32"})


@pytest.fixture(scope="session")
def ratings() -> pd.DataFrame:
    return synthetic_ratings()
