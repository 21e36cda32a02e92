"""Incremental retraining on ML-100K: warm start from an older model vs a cold fit.

    python bench/warm_start.py [--arch default] [--fractions 0.25,0.5] [--cold-epochs N]
                               [--from-artifact]

The protocol split (25% held out, seed 42) as always. The "old database" is the training part
minus 5% of its readers (new readers), minus 3% of its books (new books), minus 5% of the rest
of its ratings (new ratings). The old model is fit on it; then the current training part is
fit (a) cold for E epochs and (b) warm-started from the old model (`Architecture.warm_fit`)
for a fraction of E. Both are exported and scored on the held-out part through ONNX; the
gate's tolerances decide whether warm is acceptable. This is what sets the pipeline's
WARM_FINAL_FRACTION.

`--from-artifact` also measures what `bookrec worker` runs: the old model written as a
published artifact and the warm start read back from its arrays (`training.incremental`,
`Architecture.warm_fit_from`), beside the time of a whole cold `bookrec train` (selection +
holdout + final fits) against the incremental one (holdout + warm final fit).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))  # the benchmark's own helpers (_retrain.py)
CACHE = Path(os.environ.get("BOOKREC_CACHE", Path.home() / ".cache" / "bookrec"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", default="default")
    parser.add_argument("--fractions", default="0.25,0.5")
    parser.add_argument("--cold-epochs", type=int, default=0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--from-artifact", action="store_true")
    args = parser.parse_args()
    from app.native_stderr import filter_tensorflow_chatter

    filter_tensorflow_chatter()  # TensorFlow's CPU-only start-up lines

    from _retrain import held_out, publish, warm_from_current

    from artifact import DirectoryStore
    from artifact.gate import NDCG_TOLERANCE, RMSE_TOLERANCE
    from training import archs
    from training import data as data_mod
    from training.fit import fit
    from training.pipeline import WARM_FINAL_FRACTION, epochs_by_validation
    from training.split import stratified_split
    from training.writer import SPLIT_SEED, TEST_FRACTION

    raw = pd.read_csv(
        CACHE / "ml-100k" / "u.data", sep="\t", names=["user_id", "book_id", "stars", "t"]
    )
    ratings = data_mod.normalise(raw)
    scale = data_mod.rating_scale(ratings)
    train_part, test_part = stratified_split(ratings, TEST_FRACTION, SPLIT_SEED)
    spec = archs.get(args.arch)
    rng = np.random.default_rng(0)
    users = train_part["user_id"].unique()
    books = train_part["book_id"].unique()
    new_users = rng.choice(users, int(0.05 * users.size), replace=False)
    new_books = rng.choice(books, int(0.03 * books.size), replace=False)
    old = train_part[~train_part.user_id.isin(new_users) & ~train_part.book_id.isin(new_books)]
    old = old.drop(old.sample(frac=0.05, random_state=0).index)
    print(f"old database: {len(old)} ratings; current training part: {len(train_part)}", flush=True)

    def score(fitted, enc, label):
        m = held_out(spec, fitted, enc, train_part, test_part, scale, args.seed)
        print(
            f"{label}: RMSE {m['rmse']:.4f} nDCG@10 {m['ndcg@10']:.4f} "
            f"epochs {fitted.epochs} fit {fitted.seconds:.1f}s",
            flush=True,
        )
        return m

    started = time.perf_counter()
    epochs = (
        args.cold_epochs or epochs_by_validation(spec, train_part, scale, args.seed, None, 0)[0]
    )
    selection_seconds = time.perf_counter() - started
    enc_old = data_mod.encode(old)
    old_fit = fit(spec, enc_old, scale, args.seed, epochs=epochs, verbose=0)
    enc = data_mod.encode(train_part)
    cold_fit = fit(spec, enc, scale, args.seed, epochs=epochs, verbose=0)
    cold = score(cold_fit, enc, "cold")
    for fraction in [float(f) for f in args.fractions.split(",")]:
        k = max(1, round(epochs * fraction))
        warm = spec.warm_fit(enc, scale, args.seed, k, old_fit, enc_old, 0)
        if warm is None:
            raise SystemExit(f"arch {args.arch!r} cannot warm start (Architecture.warm_fit)")
        wm = score(warm, enc, f"warm {fraction:.2f}")
        ok = wm["ndcg@10"] >= cold["ndcg@10"] * (1 - NDCG_TOLERANCE) and wm["rmse"] <= cold[
            "rmse"
        ] * (1 + RMSE_TOLERANCE)
        print(f"  within the gate's tolerance of cold: {ok}", flush=True)
    if args.from_artifact:
        k = max(1, round(epochs * WARM_FINAL_FRACTION))
        with tempfile.TemporaryDirectory() as tmp:
            store = DirectoryStore(tmp)
            publish(store, spec, old_fit, enc_old, old, scale, args.seed)
            warm, reason = warm_from_current(store, spec, train_part, enc, scale, args.seed, k)
        print(f"training.incremental: {reason}", flush=True)
        wm = score(warm, enc, f"warm from artifact {WARM_FINAL_FRACTION:.2f}")
        ok = wm["ndcg@10"] >= cold["ndcg@10"] * (1 - NDCG_TOLERANCE) and wm["rmse"] <= cold[
            "rmse"
        ] * (1 + RMSE_TOLERANCE)
        print(f"  within the gate's tolerance of cold: {ok}", flush=True)
        # bookrec train, cold: selection + holdout + final; the worker's incremental
        # retrain: holdout (cold, same epochs, no selection) + warm final
        full = selection_seconds + 2 * cold_fit.seconds
        incremental = cold_fit.seconds + warm.seconds
        print(
            f"fits of a whole retrain: cold {full:.1f}s (selection {selection_seconds:.1f} + "
            f"holdout {cold_fit.seconds:.1f} + final {cold_fit.seconds:.1f}), incremental "
            f"{incremental:.1f}s (holdout {cold_fit.seconds:.1f} + warm final {warm.seconds:.1f}); "
            f"final fit alone: warm {warm.seconds / cold_fit.seconds:.0%} of cold",
            flush=True,
        )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
