"""bench/scale.py --epochs N: seconds per epoch of one architecture's own fit loop straight
from arrays (no database, no selection), peak RSS, export parity, and scoring + top-10 for
one reader with onnxruntime against a plain numpy matrix-vector product + argpartition."""

from __future__ import annotations

import dataclasses
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _scale_reports import load, rss_mb


def epoch_benchmark(
    frame: pd.DataFrame,
    arch: str,
    epochs: int,
    batch_size: int | None,
    readers: int,
    seed: int,
) -> None:
    import onnxruntime as ort

    from training import archs
    from training.data import encode, rating_scale
    from training.export import check_parity, export_graphs
    from training.fit import fit

    data = encode(frame)
    scale = rating_scale(frame)
    spec = archs.get(arch)
    if batch_size is not None:
        spec = dataclasses.replace(spec, batch_size=batch_size)
    fitted = fit(spec, data, scale, seed, epochs=epochs, verbose=2)
    model = fitted.model
    per_epoch = fitted.history.get("epoch_seconds") or [fitted.seconds / epochs]
    train_rss = rss_mb()
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
        chosen = rng.choice(data.n_users, min(readers, data.n_users), replace=False)
        onnx_times, numpy_times = [], []
        user_factors, books = arrays["user_factors"], arrays["book_factors"]
        projection, rank_bias = arrays["rank_projection"], arrays["rank_bias"]
        agree = 0
        for reader in chosen.astype(np.int64):
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
        f"arch {arch}, batch_size {spec.batch_size}, dim {model.dim}"
    )
    print(
        f"training: {', '.join(f'{s:.1f}' for s in per_epoch)} s/epoch "
        f"({data.users.size / np.mean(per_epoch):,.0f} ratings/s), load {load():.2f}"
    )
    print(f"peak RSS: {train_rss:.0f} MB after training, {rss_mb():.0f} MB overall (limit 4096 MB)")
    print(f"export parity (Keras vs ONNX): max abs diff {parity:.2g}")
    print(f"one reader, all {data.n_books:,} books + top-10 (median of {len(chosen)}):")
    print(
        f"  onnxruntime (1 thread, scores + stars): {np.median(onnx_times) * 1e3:.3f} ms "
        f"(p95 {np.percentile(onnx_times, 95) * 1e3:.3f} ms)"
    )
    print(
        f"  numpy matvec + argpartition (scores):   {np.median(numpy_times) * 1e3:.3f} ms "
        f"(p95 {np.percentile(numpy_times, 95) * 1e3:.3f} ms)"
    )
    print(f"  identical top-10 sets: {agree}/{len(chosen)}")
