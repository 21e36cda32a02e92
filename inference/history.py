"""A fingerprint of a reader's ratings, so that serving can tell whether a reader's history
is still the one the model was trained on.

Training stores one per known reader (`user_history_hash.npy`); serving computes the same
from the reader's current ratings. Order-free (a sum of mixed per-rating hashes, modulo
2^64), so the two sides agree however the ratings were read."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit affects every output bit. On uint64 arrays
    the products wrap modulo 2^64 without a warning (only numpy scalars warn)."""
    x = x.astype(np.uint64)
    x ^= x >> np.uint64(30)
    x *= _M1
    x ^= x >> np.uint64(27)
    x *= _M2
    x ^= x >> np.uint64(31)
    return x


def rating_keys(book_ids: np.ndarray, stars: np.ndarray) -> np.ndarray:
    half = np.rint(np.asarray(stars, dtype=np.float64) * 2).astype(np.uint64)
    return _mix(np.asarray(book_ids, dtype=np.int64).astype(np.uint64) * np.uint64(16) + half)


def history_hash(book_ids: np.ndarray, stars: np.ndarray) -> int:
    """The fingerprint of one reader's (book id, stars) ratings."""
    return int(np.atleast_1d(rating_keys(book_ids, stars)).sum(dtype=np.uint64))


def history_hash_of(rated: Sequence[tuple[int, float]]) -> int:
    """`history_hash` of (book id, stars) pairs (a reader's ratings as serving reads them)."""
    if not rated:
        return 0
    n = len(rated)
    books = np.fromiter((b for b, _ in rated), dtype=np.int64, count=n)
    stars = np.fromiter((s for _, s in rated), dtype=np.float64, count=n)
    return history_hash(books, stars)


def history_hashes(
    users: np.ndarray, book_ids: np.ndarray, stars: np.ndarray, n_users: int
) -> np.ndarray:
    """Per user index, the fingerprint of their ratings (users given as indices)."""
    out = np.zeros(n_users, dtype=np.uint64)
    np.add.at(out, np.asarray(users, dtype=np.int64), rating_keys(book_ids, stars))
    return out
