"""bench/scale.py's reference beside the pipeline: implicit's ALS on the protocol's training
part, scored by the protocol's nDCG@10; and the process figures every line carries."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from inference.metrics import ndcg_rows, top_k_rows
from training.data import Encoded, encode
from training.evaluation import K


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def load() -> float:
    """The 1-minute load average: every figure on the shared machine is reported with it."""
    return os.getloadavg()[0]


def _rows_of(chunk: np.ndarray, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For sorted `chunk` (reader indices): the chunk row of each entry of `users` and
    whether that reader is in the chunk at all."""
    rows = np.minimum(np.searchsorted(chunk, users), chunk.size - 1)
    return rows, chunk[rows] == users


def protocol_ndcg(
    score_rows: Callable[[np.ndarray], np.ndarray],
    train: Encoded,
    test_part: pd.DataFrame,
    k: int = K,
    chunk: int = 512,
) -> float:
    """Mean nDCG@k as `training.evaluation.evaluate_recommender` computes it, for a scorer of
    reader indices of `train` ([readers, books] scores): every held-out reader the scorer
    knows; every book it knows scored except the reader's training books; all of the reader's
    held-out books relevant, those it does not know too (they count in the ideal DCG); ranks
    by `top_k_rows`, gains by `ndcg_rows`."""
    held_ids, n_held = np.unique(test_part["user_id"].to_numpy(np.int64), return_counts=True)
    index = np.searchsorted(train.user_ids, held_ids)
    known = index < train.n_users
    known[known] = train.user_ids[index[known]] == held_ids[known]
    readers, n_relevant = index[known], n_held[known]  # sorted: user_ids and held_ids are
    hu, hb, _ = train.encode(test_part)
    order = np.argsort(train.users, kind="stable")
    tu, tb = train.users[order], train.books[order]
    order = np.argsort(hu, kind="stable")
    hu, hb = hu[order], hb[order]
    per_reader = []
    for start in range(0, readers.size, chunk):
        ch = readers[start : start + chunk]
        scores = np.array(score_rows(ch), dtype=np.float32)  # a copy: rows are overwritten
        lo, hi = np.searchsorted(tu, ch[0]), np.searchsorted(tu, ch[-1], side="right")
        rows, ok = _rows_of(ch, tu[lo:hi])
        scores[rows[ok], tb[lo:hi][ok]] = -np.inf
        lo, hi = np.searchsorted(hu, ch[0]), np.searchsorted(hu, ch[-1], side="right")
        rows, ok = _rows_of(ch, hu[lo:hi])
        relevant = np.zeros(scores.shape, dtype=bool)
        relevant[rows[ok], hb[lo:hi][ok]] = True
        top = top_k_rows(scores, k)
        per_reader.append(
            ndcg_rows(np.take_along_axis(relevant, top, 1), n_relevant[start : start + chunk])
        )
    return float(np.concatenate(per_reader).mean()) if per_reader else 0.0


# implicit 0.7's defaults, and the grid searched on the validation slice (alpha scales each
# rating's confidence: implicit weighs an observed pair alpha * value, an unobserved one 1).
ALS_DEFAULTS = (1.0, 0.01)
ALS_GRID = ((1.0, 0.01), (10.0, 0.01), (40.0, 0.01), (10.0, 10.0), (40.0, 10.0), (40.0, 100.0))
VALIDATION_READERS = 5000  # validation readers scored per grid point (a seeded sample)


@dataclass
class AlsFit:
    alpha: float
    regularization: float
    fit_seconds: float  # on the whole training part
    ndcg: float  # held out: the test part, looked at once per reported row
    validation_ndcg: float


@dataclass
class AlsReference:
    version: str
    factors: int
    iterations: int
    defaults: AlsFit
    chosen: AlsFit  # best validation nDCG@10 over ALS_GRID
    selection_seconds: float  # the grid: fits on the inner part + validation scoring
    most_rated_ndcg: float  # the same scorer on training counts: a check against the protocol
    peak_rss_mb: float
    readers: int  # in the training part


def _matrix(data: Encoded) -> Any:
    import scipy.sparse as sp

    return sp.csr_matrix(
        (np.ones(data.users.size, np.float32), (data.users, data.books)),
        shape=(data.n_users, data.n_books),
    )


def _fit_als(
    data: Encoded, factors: int, alpha: float, regularization: float, seed: int
) -> tuple[Any, float]:
    import implicit
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):  # implicit's own advice: its threads, not BLAS's
        model = implicit.als.AlternatingLeastSquares(
            factors=factors, alpha=alpha, regularization=regularization, random_state=seed
        )
        started = time.perf_counter()
        model.fit(_matrix(data), show_progress=False)
        seconds = time.perf_counter() - started
    return model, seconds


def _scorer(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    users, books = np.asarray(model.user_factors), np.asarray(model.item_factors)
    return lambda ch: users[ch] @ books.T


def als_reference(
    train_part: pd.DataFrame, test_part: pd.DataFrame, factors: int, seed: int = 0
) -> AlsReference:
    """implicit's ALS with `factors` on the protocol's whole training part, binary input (each
    rating a 1: which books a reader rated, not the stars), BLAS limited to 1 thread: once
    with the library's defaults, once with the (alpha, regularization) of ALS_GRID that scored
    best on the validation slice the pipeline's selection fit uses (never the test part)."""
    import implicit

    from training.split import stratified_split
    from training.writer import SPLIT_SEED, VALIDATION_FRACTION

    started = time.perf_counter()
    inner, val = stratified_split(train_part, VALIDATION_FRACTION, SPLIT_SEED + 1)
    inner_data = encode(inner)
    val_readers = val["user_id"].unique()
    if val_readers.size > VALIDATION_READERS:
        sample = np.random.default_rng(seed).choice(val_readers, VALIDATION_READERS, replace=False)
        val = val[val["user_id"].isin(sample)]
    validation: dict[tuple[float, float], float] = {}
    for alpha, regularization in ALS_GRID:
        model, _ = _fit_als(inner_data, factors, alpha, regularization, seed)
        validation[(alpha, regularization)] = protocol_ndcg(_scorer(model), inner_data, val)
    selection_seconds = time.perf_counter() - started
    best = max(ALS_GRID, key=lambda point: validation[point])

    data = encode(train_part)
    fits: dict[tuple[float, float], AlsFit] = {}
    for point in dict.fromkeys([ALS_DEFAULTS, best]):
        model, seconds = _fit_als(data, factors, *point, seed)
        ndcg = protocol_ndcg(_scorer(model), data, test_part)
        fits[point] = AlsFit(*point, seconds, ndcg, validation[point])
    counts = np.bincount(data.books, minlength=data.n_books).astype(np.float32)
    popularity = protocol_ndcg(lambda ch: np.tile(counts, (ch.size, 1)), data, test_part)
    return AlsReference(
        version=implicit.__version__,
        factors=factors,
        iterations=int(model.iterations),
        defaults=fits[ALS_DEFAULTS],
        chosen=fits[best],
        selection_seconds=selection_seconds,
        most_rated_ndcg=popularity,
        peak_rss_mb=rss_mb(),
        readers=data.n_users,
    )
