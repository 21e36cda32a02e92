"""Synthetic ratings for the benchmarks at a real shop's size (bench/scale.py, bench/importing.py).

One generator of (reader, book) pairs: each reader's activity lognormal, each book's
popularity given by the caller, pairs drawn with replacement and repeats dropped until there
are n unique ones. Two star models on top: `low_rank_stars` (scale.py: a reader's taste
matters) and `histogram_stars` (importing.py: each book's real star histogram). And the one
writer of goodbooks-layout `ratings.csv` files, in chunks, optionally with broken lines.
Nothing dense (readers x books) is ever materialised.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
# The real 10,000-book catalog, in the shared data folder beside the checkout (two levels up
# from a worktree); without it (a clone elsewhere), the demo's 2,500 real books shipped here.
_CATALOGS = [
    base / "shared" / "data" / "goodbooks-10k" / "books.csv"
    for base in (ROOT.parent, ROOT.parent.parent)
] + [ROOT / "db" / "demo_data" / "books.csv"]
REAL_BOOKS = next((path for path in _CATALOGS if path.is_file()), _CATALOGS[-1])
WRITE_CHUNK = 500_000
# Lines `write_goodbooks_ratings` puts at the `bad_at` positions: each fails the import's
# checks for a different reason (too few fields, not a number, stars out of range, unknown
# book, an empty id).
BROKEN_LINES = ("1,2", "x,1,5", "1,1,9", "1,999999,3", ",1,4")


def reader_activity(rng: np.random.Generator, readers: int) -> np.ndarray:
    """How often each reader rates (lognormal, sums to 1): a few readers rate a lot."""
    activity = rng.lognormal(0.0, 1.0, readers)
    return activity / activity.sum()


def unique_pairs(
    rng: np.random.Generator,
    activity: np.ndarray,
    popularity: np.ndarray,
    n: int,
    oversample: float = 1.1,
) -> tuple[np.ndarray, np.ndarray]:
    """n distinct (reader index, book index) pairs in random order: readers drawn by
    `activity`, books by `popularity` (each sums to 1)."""
    n_books = popularity.size
    if n > activity.size * n_books:
        raise ValueError(f"{n:,} ratings do not fit {activity.size:,} x {n_books:,} pairs")
    pairs = np.empty(0, dtype=np.int64)
    while pairs.size < n:
        need = int((n - pairs.size) * oversample) + 1000
        users = rng.choice(activity.size, need, p=activity)
        books = rng.choice(n_books, need, p=popularity)
        pairs = np.unique(np.concatenate([pairs, users.astype(np.int64) * n_books + books]))
    pairs = rng.permutation(pairs)[:n]
    return pairs // n_books, pairs % n_books


def low_rank_stars(
    rng: np.random.Generator,
    users: np.ndarray,
    books: np.ndarray,
    n_users: int,
    n_books: int,
    rank: int = 8,
    chunk: int = 1_000_000,
) -> np.ndarray:
    """Whole stars 1..5 (goodbooks' scale): 3.5 + taste . traits + noise, rounded, clipped.
    Taste decides the stars only; which books a reader rates is popularity alone."""
    taste = rng.normal(0, 1 / np.sqrt(rank), (n_users, rank)).astype(np.float32)
    traits = rng.normal(0, 1, (n_books, rank)).astype(np.float32)
    stars = np.empty(users.size, dtype=np.int8)
    for start in range(0, users.size, chunk):  # chunked: no n_ratings x rank temporaries
        sl = slice(start, start + chunk)
        raw = (
            3.5
            + np.einsum("ij,ij->i", taste[users[sl]], traits[books[sl]])
            + rng.normal(0, 0.5, users[sl].size)
        )
        stars[sl] = np.clip(np.round(raw), 1, 5)
    return stars


def histogram_stars(
    rng: np.random.Generator, books_csv: pd.DataFrame, book_index: np.ndarray
) -> np.ndarray:
    """Whole stars drawn from each book's real star histogram (goodbooks' ratings_1..5)."""
    histogram = books_csv[[f"ratings_{k}" for k in range(1, 6)]].to_numpy(dtype=np.float64)
    cdf = np.cumsum(histogram / histogram.sum(axis=1, keepdims=True), axis=1)[:, :4]
    stars = np.empty(book_index.size, dtype=np.int8)
    for start in range(0, book_index.size, WRITE_CHUNK):
        sl = slice(start, start + WRITE_CHUNK)
        stars[sl] = 1 + (rng.random(book_index[sl].size)[:, None] > cdf[book_index[sl]]).sum(1)
    return stars


def write_goodbooks_ratings(
    path: Path,
    user_ids: np.ndarray,
    book_ids: np.ndarray,
    stars: np.ndarray,
    bad_at: Iterable[int] = (),
) -> None:
    """`user_id,book_id,rating` lines in the given order; the lines at `bad_at` (0-based,
    among the ratings) replaced by `BROKEN_LINES`."""
    bad = set(bad_at)
    with open(path, "w", encoding="ascii", newline="\n") as out:
        out.write("user_id,book_id,rating\n")
        for start in range(0, user_ids.size, WRITE_CHUNK):
            sl = slice(start, start + WRITE_CHUNK)
            columns = np.column_stack([user_ids[sl], book_ids[sl], stars[sl]])
            lines = ("%d,%d,%d\n" * len(columns)) % tuple(columns.ravel().tolist())
            if bad:
                rows = lines.split("\n")
                for i in sorted(b - start for b in bad if start <= b < start + WRITE_CHUNK):
                    rows[i] = BROKEN_LINES[i % len(BROKEN_LINES)]
                lines = "\n".join(rows)
            out.write(lines)


def write_books_subset(source: Path, target: Path, n_books: int) -> np.ndarray:
    """The catalog's first `n_books` rows (goodbooks numbers its books by popularity), every
    field copied as text; returns their book ids in file order."""
    books = pd.read_csv(source, dtype=str, keep_default_na=False)
    if n_books > len(books):
        raise ValueError(f"{source} has {len(books):,} books, fewer than {n_books:,}")
    books.head(n_books).to_csv(target, index=False, quoting=csv.QUOTE_MINIMAL)
    return books["book_id"].head(n_books).astype(np.int64).to_numpy()
