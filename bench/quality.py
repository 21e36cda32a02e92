"""Quality benchmark on MovieLens-100K, through the project's own path.

    python bench/quality.py [--archs seed000,seed003,joint,default] [--cache DIR] [--seed N]
                            [--cold] [--no-warm]

1. fetch ML-100K from the recbole 1.2.1 wheel into a cache dir outside the repo (never commit
   it: the MovieLens licence forbids redistribution), rewritten in the original u.data/u.item
   layout;
2. import it into a fresh SQLite database with the project's importer (``bookrec import``'s code);
3. for each architecture run ``training.pipeline.train``: the holdout run (fit on the
   training part, exported to ONNX, scored by the inference layer on the held-out part),
   then the refit on all ratings and the artifact;
4. print one table: the held-out metrics of every model beside popularity;
5. a warm-started retrain after 2% more ratings (`warm_retrain`, skipped with --no-warm);
6. with --cold, fold-in for readers the model never saw (`cold_readers`).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))  # the benchmark's own helpers (ml100k.py)

DEFAULT_CACHE = Path(os.environ.get("BOOKREC_CACHE", Path.home() / ".cache" / "bookrec"))
WHEEL_MEMBER = "recbole/dataset_example/ml-100k/"


def fetch_ml100k(cache: Path) -> Path:
    """Directory holding u.data / u.item / u.genre for ML-100K (downloaded once)."""
    from ml100k import write_ml100k_from_recbole

    target = cache / "ml-100k"
    if (target / "u.data").is_file() and (target / "u.item").is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bookrec-recbole-") as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                "recbole==1.2.1",
                "-d",
                tmp,
            ],
            check=True,
        )
        wheel = next(Path(tmp).glob("recbole-1.2.1-*.whl"))
        raw = Path(tmp) / "raw"
        with zipfile.ZipFile(wheel) as zf:
            for member in zf.namelist():
                if member.startswith(WHEEL_MEMBER) and member.endswith((".inter", ".item")):
                    zf.extract(member, raw)
        write_ml100k_from_recbole(raw / WHEEL_MEMBER, target)
    return target


def database_with(ml100k: Path, workdir: Path) -> str:
    """A fresh SQLite database holding ML-100K, imported by the project's importer."""
    from db import importers
    from db.engine import make_engine
    from db.schema_setup import upgrade

    url = f"sqlite:///{workdir / 'bench.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        print(importers.import_movielens(engine, ml100k, progress=False).summary(), flush=True)
    finally:
        engine.dispose()
    return url


def machine_info() -> str:
    import numpy as np
    import onnxruntime
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"TensorFlow {tf.__version__}, onnxruntime {onnxruntime.__version__}, numpy {np.__version__}"
    )


def run(database_url: str, archs: list[str], models_dir: Path, seed: int = 42) -> str:
    """Train every architecture from ``database_url`` and return the benchmark table."""
    from app.tables import metrics_table
    from training.pipeline import train

    rows, baseline = [], None
    for arch in archs:
        started = time.perf_counter()
        result = train(database_url, models_dir / arch, arch=arch, seed=seed, force=True)
        total = time.perf_counter() - started
        print(
            f"{arch}: {result.version} epochs={result.epochs} parity={result.parity_max_abs_diff:.2g} "
            f"total {total:.0f}s",
            flush=True,
        )
        rows.append(
            (
                arch,
                {**result.metrics, "fit s": round(result.fit_seconds, 1), "epochs": result.epochs},
            )
        )
        baseline = result.baseline_metrics
    if baseline is not None:
        rows.insert(0, ("most-rated", {**baseline, "fit s": 0.0, "epochs": 0}))
    title = (
        "MovieLens-100K, per-user 25% holdout (split seed 42); models fit on the training part only, "
        "exported to ONNX and scored by the inference layer. 'fit s' = holdout fit seconds."
    )
    return metrics_table(rows, title, extra=("fit s", "epochs")) + "\n" + machine_info()


def cold_readers(database_url: str, n_cold: int = 100, seed: int = 42) -> str:
    """Fold-in for readers the model never saw: hold ``n_cold`` readers out of training
    entirely, fit ``default`` on everyone else's training part, then give each cold reader
    their own training-part ratings as history and score their held-out part."""
    import numpy as np

    from app.tables import metrics_table
    from inference import Recommender
    from training import archs
    from training import data as data_mod
    from training.evaluation import evaluate_fold_in, most_rated_baseline
    from training.fit import fit
    from training.split import stratified_split
    from training.writer import SPLIT_SEED, TEST_FRACTION, base_manifest, write_artifact

    ratings = data_mod.load_ratings(database_url)
    train_part, test_part = stratified_split(ratings, TEST_FRACTION, SPLIT_SEED)
    rng = np.random.default_rng(seed)
    cold = rng.choice(test_part["user_id"].unique(), n_cold, replace=False)
    warm = train_part[~train_part["user_id"].isin(cold)]
    history = train_part[train_part["user_id"].isin(cold)]
    held = test_part[test_part["user_id"].isin(cold)]
    spec = archs.get("default")
    encoded = data_mod.encode(warm)
    scale = data_mod.rating_scale(warm)
    # early stopping on a validation slice of what it is fit on, as `bookrec train` does
    from training.pipeline import epochs_by_validation

    epochs, _ = epochs_by_validation(spec, warm, scale, seed, None, 0)
    fitted = fit(spec, encoded, scale, seed, epochs=epochs, verbose=0)
    with tempfile.TemporaryDirectory(prefix="bookrec-cold-") as tmp:
        manifest = base_manifest(spec, epochs, seed, warm, scale)
        manifest.update(version="cold", metrics={}, baseline_metrics={})
        write_artifact(Path(tmp), fitted, encoded, spec, manifest)
        folded = evaluate_fold_in(Recommender.load(tmp), history, held)
    popular = most_rated_baseline(pd_concat(warm, history), held)
    title = (
        f"Cold readers: {n_cold} readers absent from training, folded in from their "
        "training-part ratings (recommend_for_history), scored on their held-out part."
    )
    return metrics_table([("most-rated", popular), ("default fold-in", folded)], title)


NEW_SHARE = 0.02  # the warm retrain's "new" ratings: this share of the training part


def warm_retrain(database_url: str, seed: int = 42) -> str:
    """A retrain after 2% more ratings, warm against cold, on the protocol's held-out part.

    The training part minus a random 2% of its ratings is the database the "current model"
    (`default`, cold, epochs chosen on a validation slice of it) was trained and published
    from; then the 2% arrive and the training part is fit (a) warm from the published version
    for WARM_FINAL_FRACTION of the epochs through `training.incremental` (what `bookrec
    worker` runs) and (b) cold for all of them. All three are scored through ONNX on the same
    held-out part."""
    from _retrain import held_out, publish, warm_from_current

    from app.tables import metrics_table
    from artifact import DirectoryStore
    from training import archs
    from training import data as data_mod
    from training.fit import fit
    from training.pipeline import WARM_FINAL_FRACTION, epochs_by_validation
    from training.split import stratified_split
    from training.writer import SPLIT_SEED, TEST_FRACTION

    ratings = data_mod.load_ratings(database_url)
    train_part, test_part = stratified_split(ratings, TEST_FRACTION, SPLIT_SEED)
    scale = data_mod.rating_scale(train_part)
    old = train_part.drop(train_part.sample(frac=NEW_SHARE, random_state=seed).index)
    spec = archs.get("default")
    started = time.perf_counter()
    epochs, _ = epochs_by_validation(spec, old, scale, seed, None, 0)
    selection_s = time.perf_counter() - started
    enc_old, enc = data_mod.encode(old), data_mod.encode(train_part)
    current = fit(spec, enc_old, scale, seed, epochs=epochs, verbose=0)
    rows = [
        ("current (98%)", current, held_out(spec, current, enc_old, old, test_part, scale, seed))
    ]
    warm_epochs = max(1, round(epochs * WARM_FINAL_FRACTION))
    with tempfile.TemporaryDirectory(prefix="bookrec-current-") as tmp:
        store = DirectoryStore(tmp)
        publish(store, spec, current, enc_old, old, scale, seed)
        warm, reason = warm_from_current(store, spec, train_part, enc, scale, seed, warm_epochs)
    rows.append(("warm +2%", warm, held_out(spec, warm, enc, train_part, test_part, scale, seed)))
    cold = fit(spec, enc, scale, seed, epochs=epochs, verbose=0)
    rows.append(("cold +2%", cold, held_out(spec, cold, enc, train_part, test_part, scale, seed)))
    title = (
        f"Warm-started retrain: {len(train_part) - len(old)} new ratings ({NEW_SHARE:.0%} of the "
        f"training part); `default` on the training part, warm ({reason}) vs cold, held out "
        f"through ONNX. Cold epochs chosen on the 98%'s validation slice ({selection_s:.1f}s)."
    )
    table = [(name, {**m, "fit s": f.seconds, "epochs": f.epochs}) for name, f, m in rows]
    note = f"warm fit {warm.seconds / cold.seconds:.0%} of the cold fit's time"
    return metrics_table(table, title, extra=("fit s", "epochs")) + "\n" + note


def pd_concat(*frames):
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", default="seed000,seed003,joint,default")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--cold", action="store_true", help="also measure fold-in for unseen readers"
    )
    parser.add_argument("--no-warm", action="store_true", help="skip the warm-started retrain")
    args = parser.parse_args(argv)
    from app.native_stderr import filter_tensorflow_chatter

    filter_tensorflow_chatter()  # TensorFlow's CPU-only start-up lines
    ml100k = fetch_ml100k(args.cache)
    with tempfile.TemporaryDirectory(prefix="bookrec-quality-") as tmp:
        url = database_with(ml100k, Path(tmp))
        print(run(url, args.archs.split(","), Path(tmp) / "models", seed=args.seed))
        if not args.no_warm:
            print(warm_retrain(url, seed=args.seed))
        if args.cold:
            print(cold_readers(url, seed=args.seed))
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
