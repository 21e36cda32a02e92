"""Hyperparameter sweep for `readers` on ML-100K, on the VALIDATION slice only.

    python bench/tune_readers.py [--seeds 42,43] [--threads 1] VARIANT [VARIANT ...]

A VARIANT is a JSON object of overrides of the registered `readers` config as it applies
to this data's size (`small` resolved): model_params
keys (dim, l2, rank_weight, rank_l2, user_lr, implicit, rank_vector, members, ...) and the Architecture fields
epochs / learning_rate / patience, e.g. '{}' (the registered config) or
'{"dim": 128, "l2": 0.15}'. Exactly what `bookrec train` selects on: the protocol's training
part (split seed 42) minus the validation slice (`training.pipeline.select_epochs`), early
stopping on the slice; the test part is never read. Prints, per variant and seed, the
validation RMSE / nDCG@10 at the kept epoch, then the mean over the seeds.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CACHE = Path(os.environ.get("BOOKREC_CACHE", Path.home() / ".cache" / "bookrec"))
ARCH_FIELDS = ("epochs", "learning_rate", "patience", "batch_size")


def variant(overrides: dict, n_ratings: int):
    """The registered config as it applies at `n_ratings` (`small` resolved), overridden."""
    from training import archs

    base = archs.get("readers")
    fields = {k: overrides[k] for k in ARCH_FIELDS if k in overrides}
    params = base.params_for(n_ratings)  # type: ignore[attr-defined]
    params = {k: v for k, v in params.items() if k not in ("small", "small_below")}
    params.update({k: v for k, v in overrides.items() if k not in fields})
    return dataclasses.replace(base, model_params=params, **fields)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+")
    parser.add_argument("--seeds", default="42,43")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    from app.native_stderr import filter_tensorflow_chatter

    filter_tensorflow_chatter()  # TensorFlow's CPU-only start-up lines

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from training import data as data_mod
    from training.pipeline import select_epochs
    from training.split import stratified_split
    from training.writer import SPLIT_SEED, TEST_FRACTION

    raw = pd.read_csv(
        CACHE / "ml-100k" / "u.data", sep="\t", names=["user_id", "book_id", "stars", "t"]
    )
    ratings = data_mod.normalise(raw)
    scale = data_mod.rating_scale(ratings)
    train_part, _ = stratified_split(ratings, TEST_FRACTION, SPLIT_SEED)  # test part unused
    for text in args.variants:
        spec = variant(json.loads(text), len(train_part))
        rows = []
        for seed in [int(s) for s in args.seeds.split(",")]:
            started = time.perf_counter()
            selection = select_epochs(spec, train_part, scale, seed, None, 0)
            h = selection.history
            at = selection.epochs - 1
            rows.append((h["val_rmse"][at], h["val_ndcg"][at], selection.epochs))
            print(
                f"  {text} seed {seed}: val RMSE {rows[-1][0]:.4f} nDCG@10 {rows[-1][1]:.4f} "
                f"epoch {selection.epochs} ({time.perf_counter() - started:.0f}s)",
                flush=True,
            )
        mean = np.mean([r[:2] for r in rows], axis=0)
        print(f"{text}: mean val RMSE {mean[0]:.4f} nDCG@10 {mean[1]:.4f}", flush=True)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
