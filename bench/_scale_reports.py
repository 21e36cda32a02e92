"""bench/scale.py's --pipeline and --als reports, on the same synthetic ratings."""

from __future__ import annotations

import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def load() -> str:
    """The 1-minute load average: every figure on the shared machine is reported with it."""
    return Path("/proc/loadavg").read_text().split()[0]


def ndcg_numpy(
    score_fn: Callable[[np.ndarray], np.ndarray],
    train_u: np.ndarray,
    train_b: np.ndarray,
    test_u: np.ndarray,
    test_b: np.ndarray,
    k: int = 10,
    chunk: int = 512,
) -> float:
    """The protocol's nDCG@10 (binary gains; training books excluded) over every test reader."""
    users = np.unique(test_u)
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    t_order = np.argsort(train_u, kind="stable")
    tu, tb = train_u[t_order], train_b[t_order]
    h_order = np.argsort(test_u, kind="stable")
    hu, hb = test_u[h_order], test_b[h_order]
    out = []
    for s in range(0, users.size, chunk):
        ch = users[s : s + chunk]
        scores = np.array(score_fn(ch), dtype=np.float32)
        lo, hi = np.searchsorted(tu, ch[0]), np.searchsorted(tu, ch[-1], side="right")
        rows = np.searchsorted(ch, tu[lo:hi])
        ok = ch[np.minimum(rows, ch.size - 1)] == tu[lo:hi]
        scores[rows[ok], tb[lo:hi][ok]] = -np.inf
        lo, hi = np.searchsorted(hu, ch[0]), np.searchsorted(hu, ch[-1], side="right")
        rows = np.searchsorted(ch, hu[lo:hi])
        rel = np.zeros(scores.shape, bool)
        rel[rows, hb[lo:hi]] = True
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, 1), 1), 1)
        hits = np.take_along_axis(rel, top, 1)
        nrel = rel.sum(1)
        idcg = np.cumsum(disc)[np.minimum(nrel, k) - 1]
        out.append(((hits * disc).sum(1) / idcg)[nrel > 0])
    return float(np.concatenate(out).mean())


def pipeline_report(frame: pd.DataFrame, arch: str) -> None:
    """The whole `bookrec train` flow (train_frame) on `frame`: phases, total, peak RSS."""
    from training.pipeline import train_frame

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bookrec-scale-") as tmp:
        result = train_frame(frame, tmp, arch=arch, verbose=2)
    total = time.perf_counter() - started
    phases = ", ".join(f"{k} {v:.0f}" for k, v in result.phase_seconds.items())
    print(
        f"pipeline ({arch}): total {total:.0f}s ({phases}), epochs {result.epochs}, "
        f"held-out RMSE {result.metrics.get('rmse', float('nan')):.4f} nDCG@10 "
        f"{result.metrics.get('ndcg@10', float('nan')):.4f}; load {load()}, "
        f"peak RSS {rss_mb():.0f} MB",
        flush=True,
    )


def als_report(frame: pd.DataFrame, factors: int) -> None:
    """implicit's ALS (library defaults but `factors`; `pip install implicit`, not a project
    dependency) on the protocol's training part; held-out nDCG@10 beside most-rated."""
    import implicit
    import scipy.sparse as sp
    from threadpoolctl import threadpool_limits

    from training import data as data_mod
    from training.split import stratified_split
    from training.writer import SPLIT_SEED, TEST_FRACTION

    train_part, test_part = stratified_split(frame, TEST_FRACTION, SPLIT_SEED)
    enc = data_mod.encode(train_part)
    tu, tb, _ = enc.encode(test_part)
    m = sp.csr_matrix(
        (np.ones(enc.users.size, np.float32), (enc.users, enc.books)),
        shape=(enc.n_users, enc.n_books),
    )
    with threadpool_limits(1, "blas"):  # implicit's own advice: its threads, not BLAS's
        model = implicit.als.AlternatingLeastSquares(factors=factors, random_state=0)
        started = time.perf_counter()
        model.fit(m, show_progress=False)
        fit_s = time.perf_counter() - started
    uf, bf = np.asarray(model.user_factors), np.asarray(model.item_factors)
    nd = ndcg_numpy(lambda ch: uf[ch] @ bf.T, enc.users, enc.books, tu, tb)
    counts = np.bincount(enc.books, minlength=enc.n_books).astype(np.float32)
    pop = ndcg_numpy(lambda ch: np.tile(counts, (ch.size, 1)), enc.users, enc.books, tu, tb)
    print(
        f"implicit {implicit.__version__} ALS, {factors} factors: fit {fit_s:.1f}s, held-out "
        f"nDCG@10 {nd:.4f} (most-rated {pop:.4f}); load {load()}, peak RSS {rss_mb():.0f} MB",
        flush=True,
    )
