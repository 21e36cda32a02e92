"""Scale benchmark: synthetic 50,000 readers x 10,000 books x 5,000,000 ratings.

    python bench/scale.py [--ratings 5000000] [--users 50000] [--books 10000] [--epochs 1]
                          [--batch-size 1024] [--readers 1000]

Generates ratings in numpy (low-rank taste, Zipf-like book popularity, skewed reader
activity), trains the ``default`` model for a bounded number of epochs straight from arrays
(no database), reports seconds per epoch and peak RSS, exports the ONNX scorer and times
scoring + top-10 for one reader (median over --readers readers) with onnxruntime, against a
plain numpy matrix-vector product + argpartition over the same embeddings.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


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


class EpochTimer:
    def __init__(self) -> None:
        self.seconds: list[float] = []

    def keras_callback(self):
        import keras

        timer = self

        class _Timer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.started = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                timer.seconds.append(time.perf_counter() - self.started)

        return _Timer()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--books", type=int, default=10_000)
    parser.add_argument("--ratings", type=int, default=5_000_000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--readers", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    frame = synthetic_ratings(args.users, args.books, args.ratings, args.seed)
    print(
        f"generated {len(frame):,} ratings ({frame.user_id.nunique():,} readers x {frame.book_id.nunique():,} "
        f"books) in {time.perf_counter() - started:.1f}s; peak RSS {peak_rss_mb():.0f} MB",
        flush=True,
    )

    import keras
    import onnxruntime as ort

    from training import archs
    from training.data import encode, rating_scale
    from training.export import check_parity, export_graphs

    data = encode(frame)
    scale = rating_scale(frame)
    del frame
    spec = dataclasses.replace(archs.get("default"), batch_size=args.batch_size)

    keras.utils.set_random_seed(args.seed)
    model = spec.build(
        data.n_users,
        data.n_books,
        float(data.stars.mean()),
        scale,
        np.bincount(data.books, minlength=data.n_books),
    )
    timer = EpochTimer()
    model.fit(
        (data.users, data.books),
        data.stars,
        batch_size=spec.batch_size,
        epochs=args.epochs,
        shuffle=True,
        verbose=2,
        callbacks=[timer.keras_callback()],
    )
    train_rss = peak_rss_mb()

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
        user_factors = np.asarray(model.user_embedding.embeddings)
        projection = np.asarray(model.rank_projection.kernel)
        books = np.asarray(model.book_embedding.embeddings)
        rank_bias = np.asarray(model.rank_bias)
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
        f"ranking head softmax={model.softmax}, batch {spec.batch_size}, dim {model.dim}"
    )
    print(
        f"training: {', '.join(f'{s:.1f}' for s in timer.seconds)} s/epoch "
        f"({data.users.size / np.mean(timer.seconds):,.0f} ratings/s)"
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
