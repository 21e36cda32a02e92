"""Scale benchmark: synthetic 50,000 readers x 10,000 books x 5,000,000 ratings.

    python bench/scale.py [--ratings 5000000] [--users 50000] [--books 10000] [--epochs 1]
                          [--batch-size N] [--readers 1000] [--arch default]
                          [--pipeline] [--als [--als-factors 64]]

Generates ratings in numpy (low-rank taste, Zipf-like book popularity, skewed reader
activity), trains `--arch` for a bounded number of epochs straight from arrays (no
database) through its own fit loop, reports seconds per epoch and peak RSS, exports the ONNX
scorer and times scoring + top-10 for one reader (median over --readers readers) with
onnxruntime, against a plain numpy matrix-vector product + argpartition over the same arrays.
`--pipeline` times the whole `bookrec train` flow (train_frame) on the same ratings, `--als`
fits implicit's ALS on the protocol split (needs `pip install implicit`); with either, the
epoch benchmark runs only if `--epochs` is given. Caveat: which books a synthetic reader rates
depends on popularity alone (taste sets only the stars), so nDCG here rewards popularity.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _scale_reports import als_report, load, pipeline_report  # noqa: E402
from _scale_reports import rss_mb as peak_rss_mb  # noqa: E402


def synthetic_ratings(
    n_users: int, n_books: int, n_ratings: int, seed: int = 0, rank: int = 8
) -> pd.DataFrame:
    """Unique (reader, book) pairs with low-rank stars; nothing dense is ever materialised."""
    rng = np.random.default_rng(seed)
    book_p = 1.0 / np.arange(1, n_books + 1) ** 0.9
    book_p /= book_p.sum()
    user_p = rng.lognormal(0.0, 1.0, n_users)
    user_p /= user_p.sum()
    pairs = np.empty(0, dtype=np.int64)
    while pairs.size < n_ratings:
        need = int((n_ratings - pairs.size) * 1.15) + 1000
        u = rng.choice(n_users, need, p=user_p)
        b = rng.choice(n_books, need, p=book_p)
        pairs = np.unique(np.concatenate([pairs, u.astype(np.int64) * n_books + b]))
    pairs = rng.permutation(pairs)[:n_ratings]
    users, books = pairs // n_books, pairs % n_books
    taste = rng.normal(0, 1 / np.sqrt(rank), (n_users, rank)).astype(np.float32)
    traits = rng.normal(0, 1, (n_books, rank)).astype(np.float32)
    stars = np.empty(n_ratings, dtype=np.float32)
    for start in range(0, n_ratings, 1_000_000):  # chunked: no n_ratings x rank temporaries
        sl = slice(start, start + 1_000_000)
        raw = (
            3.5
            + np.einsum("ij,ij->i", taste[users[sl]], traits[books[sl]])
            + rng.normal(0, 0.5, users[sl].size)
        )
        stars[sl] = np.clip(np.round(raw * 2) / 2, 0.5, 5.0)
    return pd.DataFrame({"user_id": users + 1, "book_id": books + 1, "stars": stars})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--books", type=int, default=10_000)
    parser.add_argument("--ratings", type=int, default=5_000_000)
    parser.add_argument("--epochs", type=int, default=None, help="default 1")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the arch's")
    parser.add_argument("--readers", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--arch", default="default")
    parser.add_argument("--pipeline", action="store_true", help="time the whole train_frame")
    parser.add_argument("--als", action="store_true", help="implicit's ALS on the same split")
    parser.add_argument("--als-factors", type=int, default=64)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    frame = synthetic_ratings(args.users, args.books, args.ratings, args.seed)
    print(
        f"generated {len(frame):,} ratings ({frame.user_id.nunique():,} readers x {frame.book_id.nunique():,} "
        f"books) in {time.perf_counter() - started:.1f}s; peak RSS {peak_rss_mb():.0f} MB",
        flush=True,
    )

    if args.pipeline:
        pipeline_report(frame, args.arch)
    if args.als:
        als_report(frame, args.als_factors)
    if (args.pipeline or args.als) and args.epochs is None:
        return

    import onnxruntime as ort

    from training import archs
    from training.data import encode, rating_scale
    from training.export import check_parity, export_graphs
    from training.fit import fit

    data = encode(frame)
    scale = rating_scale(frame)
    del frame
    spec = archs.get(args.arch)
    if args.batch_size is not None:
        spec = dataclasses.replace(spec, batch_size=args.batch_size)
    epochs = args.epochs or 1
    fitted = fit(spec, data, scale, args.seed, epochs=epochs, verbose=2)
    model = fitted.model
    per_epoch = fitted.history.get("epoch_seconds") or [fitted.seconds / epochs]
    train_rss = peak_rss_mb()
    arrays = spec.arrays(model)  # what the server reads: the numpy scorer uses the same

    with tempfile.TemporaryDirectory(prefix="bookrec-scale-") as tmp:
        export_graphs(model, Path(tmp), folds_in=spec.folds_in)
        parity = check_parity(model, Path(tmp))
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        session = ort.InferenceSession(
            str(Path(tmp) / "score_user.onnx"), options, providers=["CPUExecutionProvider"]
        )
        rng = np.random.default_rng(1)
        readers = rng.choice(data.n_users, args.readers, replace=False).astype(np.int64)
        onnx_times, numpy_times = [], []
        user_factors, books = arrays["user_factors"], arrays["book_factors"]
        projection, rank_bias = arrays["rank_projection"], arrays["rank_bias"]
        agree = 0
        for reader in readers:
            t = time.perf_counter()
            scores, _stars = session.run(["scores", "stars"], {"user_index": reader[None]})
            top_onnx = np.argpartition(-scores[0], 9)[:10]
            onnx_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            s = books @ (user_factors[reader] @ projection) + rank_bias
            top_np = np.argpartition(-s, 9)[:10]
            numpy_times.append(time.perf_counter() - t)
            agree += len(set(top_onnx.tolist()) & set(top_np.tolist())) == 10

    print()
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"data: {data.n_users:,} readers x {data.n_books:,} books x {data.users.size:,} ratings; "
        f"arch {args.arch}, batch_size {spec.batch_size}, dim {model.dim}"
    )
    print(
        f"training: {', '.join(f'{s:.1f}' for s in per_epoch)} s/epoch "
        f"({data.users.size / np.mean(per_epoch):,.0f} ratings/s), load {load()}"
    )
    print(
        f"peak RSS: {train_rss:.0f} MB after training, {peak_rss_mb():.0f} MB overall (limit 4096 MB)"
    )
    print(f"export parity (Keras vs ONNX): max abs diff {parity:.2g}")
    print(f"one reader, all {data.n_books:,} books + top-10 (median of {args.readers}):")
    print(
        f"  onnxruntime (1 thread, scores + stars): {np.median(onnx_times) * 1e3:.3f} ms "
        f"(p95 {np.percentile(onnx_times, 95) * 1e3:.3f} ms)"
    )
    print(
        f"  numpy matvec + argpartition (scores):   {np.median(numpy_times) * 1e3:.3f} ms "
        f"(p95 {np.percentile(numpy_times, 95) * 1e3:.3f} ms)"
    )
    print(f"  identical top-10 sets: {agree}/{args.readers}")


if __name__ == "__main__":
    main()
