"""Ratings in, integer-indexed arrays out. The database is read through `db.ratings` only."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

COLUMNS = ["user_id", "book_id", "stars"]
DEFAULT_SCALE = (0.5, 5.0)


def load_ratings(database_url: str) -> pd.DataFrame:
    """All ratings in the database as a (user_id, book_id, stars) frame."""
    from db.engine import make_engine
    from db.ratings import ratings_frame

    engine = make_engine(database_url)
    try:
        return normalise(ratings_frame(engine))
    finally:
        engine.dispose()


def ratings_high_water(database_url: str) -> datetime | None:
    """The newest rating's updated_at (db.ratings.ratings_high_water)."""
    from db.engine import make_engine
    from db.ratings import ratings_high_water as high_water

    engine = make_engine(database_url)
    try:
        return high_water(engine)
    finally:
        engine.dispose()


def normalise(frame: pd.DataFrame) -> pd.DataFrame:
    missing = set(COLUMNS) - set(frame.columns)
    if missing:
        raise ValueError(f"ratings frame lacks columns {sorted(missing)}")
    out = frame[COLUMNS].astype({"user_id": "int64", "book_id": "int64", "stars": "float32"})
    return out.sort_values(["user_id", "book_id"], kind="stable").reset_index(drop=True)


def fingerprint(frame: pd.DataFrame) -> str:
    """sha256 over the sorted (user_id, book_id, stars) columns: same ratings, same hash."""
    f = normalise(frame)
    digest = hashlib.sha256()
    for column in COLUMNS:
        digest.update(np.ascontiguousarray(f[column].to_numpy()).tobytes())
    return digest.hexdigest()


def rating_scale(frame: pd.DataFrame) -> tuple[float, float]:
    """The observed star range (predictions are clipped to it)."""
    if frame.empty:
        return DEFAULT_SCALE
    return float(frame["stars"].min()), float(frame["stars"].max())


@dataclass(frozen=True)
class Encoded:
    """Ratings as contiguous indices, plus the index -> id maps."""

    user_ids: np.ndarray  # index -> user id (sorted)
    book_ids: np.ndarray  # index -> book id (sorted)
    users: np.ndarray  # int64 [n]
    books: np.ndarray  # int64 [n]
    stars: np.ndarray  # float32 [n]

    @property
    def n_users(self) -> int:
        return int(self.user_ids.size)

    @property
    def n_books(self) -> int:
        return int(self.book_ids.size)

    def encode(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Indices for the rows of ``frame`` whose user and book are both known."""
        u = np.searchsorted(self.user_ids, frame["user_id"].to_numpy())
        b = np.searchsorted(self.book_ids, frame["book_id"].to_numpy())
        u_ok = (u < self.n_users) & (
            self.user_ids[np.minimum(u, self.n_users - 1)] == frame["user_id"].to_numpy()
        )
        b_ok = (b < self.n_books) & (
            self.book_ids[np.minimum(b, self.n_books - 1)] == frame["book_id"].to_numpy()
        )
        ok = u_ok & b_ok
        return (
            u[ok].astype(np.int64),
            b[ok].astype(np.int64),
            frame["stars"].to_numpy(np.float32)[ok],
        )


def encode(frame: pd.DataFrame) -> Encoded:
    user_ids = np.unique(frame["user_id"].to_numpy(np.int64))
    book_ids = np.unique(frame["book_id"].to_numpy(np.int64))
    users = np.searchsorted(user_ids, frame["user_id"].to_numpy(np.int64))
    books = np.searchsorted(book_ids, frame["book_id"].to_numpy(np.int64))
    return Encoded(user_ids, book_ids, users, books, frame["stars"].to_numpy(np.float32))
