"""Scale benchmark: `bookrec train` end to end at 5,000,000 ratings, beside implicit's ALS.

    python bench/scale.py [--ratings 5000000] [--users 50000] [--books 10000] [--seed 0]
                          [--arch default] [--als-factors 64] [--catalog books.csv]
    python bench/scale.py --epochs N [--batch-size N] [--readers 1000]   (per epoch only)

Default run, each step timed, with the 1-minute load average after it:
1. generate N synthetic ratings in numpy (`_synthetic.py`: lognormal reader activity,
   Zipf-like book popularity over the real goodbooks-10k catalog's first `--books` books, whole
   stars from a low-rank taste model) and write them in the goodbooks layout;
2. `bookrec init-db` + `bookrec import goodbooks DIR` into a temporary SQLite database
   (subprocess: wall time, peak RSS);
3. `bookrec train --arch ARCH` into a temporary models directory, as a subprocess: the real
   command (read from the database, protocol split, selection fit, held-out evaluation
   through ONNX, final fit, artifact, gate, publish): wall time of the whole command, its
   peak RSS, and its own per-phase timings (`TrainResult.phase_seconds`, printed by
   train_frame); the published manifest's fingerprint must be that of the generated ratings;
4. implicit's ALS (`--als-factors`, binary input, 1 BLAS thread) on the same ratings'
   protocol training part, twice: the library's defaults, and the (alpha, regularization) of
   `_scale_reports.ALS_GRID` best on the pipeline's validation slice; its nDCG@10 over every
   held-out reader by the protocol's rules (`_scale_reports.protocol_ndcg`), beside the trained
   model's held-out RMSE / nDCG@10 (from its manifest) and most-rated's.

`--epochs N` instead times N epochs of `--arch`'s fit loop straight from arrays and per-reader
scoring + top-10 with onnxruntime against numpy (`_scale_epochs.py`).
Caveat: which books a synthetic reader rates depends on popularity alone (taste sets only the
stars), so nDCG here rewards reproducing popularity.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _commands import BOOKREC, Completed, bookrec_env, run_bookrec  # noqa: E402
from _machine import machine_info  # noqa: E402
from _scale_reports import ALS_GRID, AlsReference, als_reference, load, rss_mb  # noqa: E402
from _script import exit_on_sigterm  # noqa: E402
from _synthetic import (  # noqa: E402
    REAL_BOOKS,
    low_rank_stars,
    reader_activity,
    unique_pairs,
    write_books_subset,
    write_goodbooks_ratings,
)

from app.tables import metrics_table, text_table  # noqa: E402

RSS_LIMIT_MB = 4096
TIME_LIMIT_S = 15 * 60
PHASE_LABELS = {
    "db_read_s": "read the ratings from the database",
    "normalise_split_s": "normalise + protocol split",
    "selection_fit_s": "selection fit (early stopping on the validation slice)",
    "holdout_fit_s": "holdout fit on the training part",
    "holdout_export_eval_s": "holdout export + held-out evaluation through ONNX",
    "final_fit_s": "final fit on all ratings",
    "export_publish_s": "artifact export + parity + gate + publish",
}


def synthetic_ratings(
    n_users: int, book_ids: np.ndarray, n_ratings: int, seed: int = 0, rank: int = 8
) -> pd.DataFrame:
    """Unique (reader, book) pairs, book i of `book_ids` the i-th most popular (Zipf 0.9),
    whole stars from a rank-`rank` taste model."""
    rng = np.random.default_rng(seed)
    n_books = book_ids.size
    popularity = 1.0 / np.arange(1, n_books + 1) ** 0.9
    popularity /= popularity.sum()
    activity = reader_activity(rng, n_users)
    users, books = unique_pairs(rng, activity, popularity, n_ratings, oversample=1.15)
    stars = low_rank_stars(rng, users, books, n_users, n_books, rank)
    return pd.DataFrame({"user_id": users + 1, "book_id": book_ids[books], "stars": stars})


@dataclass
class Step:
    label: str
    seconds: float
    load: float
    peak_rss_mb: float | None = None


def parse_phases(output: str) -> dict[str, float]:
    """train_frame's `phases: name seconds, ...` line."""
    match = re.search(r"^phases: (.*)$", output, re.MULTILINE)
    if match is None:
        raise SystemExit("bookrec train printed no phases line")
    return {name: float(value) for name, value in re.findall(r"(\w+) ([\d.]+)", match.group(1))}


def trained_manifest(output: str) -> tuple[str, bool, dict[str, Any]]:
    """(version, published, manifest) from `bookrec train`'s last line and its artifact."""
    from artifact.manifest import read_manifest

    match = re.search(
        r"^model (v\d+) (published as current|kept, NOT made current): (.+)$", output, re.M
    )
    if match is None:
        raise SystemExit("bookrec train did not say which model it wrote")
    version, state, path = match.groups()
    return version, state.startswith("published"), read_manifest(Path(path.strip()))


def checked(done: Completed, what: str) -> Completed:
    if done.returncode != 0:
        raise SystemExit(f"{what} failed (exit status {done.returncode})")
    return done


def end_to_end(args: argparse.Namespace) -> None:
    print("\n".join(machine_info()), flush=True)
    load_before = load()
    started_at = datetime.now(UTC)
    steps: list[Step] = []

    t = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bookrec-scale-") as tmp:
        directory = Path(tmp) / "goodbooks"
        directory.mkdir()
        book_ids = write_books_subset(args.catalog, directory / "books.csv", args.books)
        frame = synthetic_ratings(args.users, book_ids, args.ratings, args.seed)
        steps.append(Step("generate the ratings (numpy)", time.perf_counter() - t, load()))
        print(
            f"generated {len(frame):,} ratings ({frame.user_id.nunique():,} readers x "
            f"{frame.book_id.nunique():,} books) in {steps[-1].seconds:.1f}s",
            flush=True,
        )
        t = time.perf_counter()
        order = np.argsort(frame["user_id"].to_numpy(), kind="stable")  # goodbooks: by reader
        write_goodbooks_ratings(
            directory / "ratings.csv",
            frame["user_id"].to_numpy()[order],
            frame["book_id"].to_numpy()[order],
            frame["stars"].to_numpy()[order],
        )
        steps.append(Step("write them as goodbooks ratings.csv", time.perf_counter() - t, load()))

        from training.data import fingerprint, normalise

        ratings = normalise(frame)  # what `bookrec train` reads back, in its order and types
        del frame
        expected = fingerprint(ratings)
        env = bookrec_env(
            database_url=f"sqlite:///{Path(tmp) / 'scale.db'}",
            model_dir=str(Path(tmp) / "models"),
            model_store="directory",
        )
        t = time.perf_counter()
        subprocess.run([str(BOOKREC), "init-db"], env=env, check=True, stdout=subprocess.DEVNULL)
        imported = checked(
            run_bookrec(["import", "goodbooks", str(directory)], env), "bookrec import"
        )
        steps.append(
            Step(
                "bookrec init-db + import goodbooks (SQLite)",
                time.perf_counter() - t,
                load(),
                imported.peak_rss_mb,
            )
        )

        trained = checked(run_bookrec(["train", "--arch", args.arch], env), "bookrec train")
        train_load = load()
        phases = parse_phases(trained.output)
        version, published, manifest = trained_manifest(trained.output)
        if manifest["data_fingerprint"] != expected:
            raise SystemExit("bookrec train did not train on the generated ratings")

    from training.split import stratified_split
    from training.writer import SPLIT_SEED, TEST_FRACTION

    train_part, test_part = stratified_split(ratings, TEST_FRACTION, SPLIT_SEED)
    del ratings
    als = als_reference(train_part, test_part, args.als_factors)
    load_after = load()
    report(args, steps, trained, train_load, phases, version, published, manifest, als)
    print(
        f"\nstarted {started_at:%Y-%m-%d %H:%M} UTC; load average (1 min) {load_before:.2f} "
        f"before, {load_after:.2f} after (this benchmark's own work included); this process's "
        f"peak RSS {rss_mb():.0f} MB (generator, ALS)"
    )


def report(
    args: argparse.Namespace,
    steps: list[Step],
    trained: Completed,
    train_load: float,
    phases: dict[str, float],
    version: str,
    published: bool,
    manifest: dict[str, Any],
    als: AlsReference,
) -> None:
    hyper = manifest["hyperparameters"]
    labels = dict(PHASE_LABELS)
    labels["selection_fit_s"] += f" -> {hyper['epochs']} epochs"
    if "final_fit_warm_epochs" in hyper:
        labels["final_fit_s"] += f" (warm, {hyper['final_fit_warm_epochs']} epochs)"
    rows: list[list[Any]] = [["setup", None, None, None]]
    rows += [[f"  {s.label}", s.seconds, s.load, s.peak_rss_mb] for s in steps]
    rows.append([f"bookrec train --arch {args.arch} (subprocess)", None, None, None])
    rows += [
        [f"  {labels.get(name, name)}", seconds, None, None] for name, seconds in phases.items()
    ]
    rows.append(
        [
            "  process start-up (imports) + unmeasured (encodes, prepare_holdout)",
            trained.seconds - sum(phases.values()),
            None,
            None,
        ]
    )
    rows.append(["  total, the whole command", trained.seconds, train_load, trained.peak_rss_mb])
    als_name = f"implicit {als.version} ALS, {als.factors} factors, {als.iterations} iterations"
    rows.append([f"{als_name} (in this process, 1 BLAS thread)", None, None, None])
    rows.append(
        [
            f"  choose alpha, regularization on the validation slice ({len(ALS_GRID)} fits)",
            als.selection_seconds,
            None,
            None,
        ]
    )
    for name, fit in (("library defaults", als.defaults), ("chosen", als.chosen)):
        rows.append(
            [
                f"  fit on the training part, {name} (alpha {fit.alpha:g}, "
                f"regularization {fit.regularization:g})",
                fit.fit_seconds,
                None,
                None,
            ]
        )
    rows[-1][2:] = [load(), als.peak_rss_mb]
    print(
        f"\n{manifest['n_ratings']:,} ratings by {als.readers:,} readers of {args.books:,} books; "
        f"arch {args.arch}; model {version} {'published' if published else 'NOT published'}"
    )
    print(
        text_table(
            ["step", "wall s", "load", "peak RSS MB"],
            rows,
            formats=[None, ".1f", ".2f", ".0f"],
        )
    )
    ok_time = trained.seconds <= TIME_LIMIT_S
    ok_rss = trained.peak_rss_mb <= RSS_LIMIT_MB
    print(
        f"bookrec train: {trained.seconds / 60:.1f} min ({'within' if ok_time else 'OVER'} the "
        f"15-minute goal), peak RSS {trained.peak_rss_mb / 1024:.2f} GB "
        f"({'under' if ok_rss else 'OVER'} the 4 GB goal)"
    )
    evaluation = manifest["metrics"]
    print()
    print(
        metrics_table(
            [
                (
                    f"{args.arch} {version} (ONNX, manifest)",
                    {**evaluation, "fit s": evaluation.get("fit_seconds")},
                ),
                (
                    f"ALS {als.factors}, defaults",
                    {"ndcg@10": als.defaults.ndcg, "fit s": als.defaults.fit_seconds},
                ),
                (
                    f"ALS {als.factors}, alpha {als.chosen.alpha:g} reg {als.chosen.regularization:g}",
                    {"ndcg@10": als.chosen.ndcg, "fit s": als.chosen.fit_seconds},
                ),
                ("most-rated (manifest)", manifest["baseline_metrics"]),
            ],
            title=(
                f"Held-out, the protocol's split of the same ratings ({evaluation.get('users', 0):,} "
                "readers; training books excluded from every list). ALS: the whole training part, "
                "binary input (alpha x 1 per rating), alpha and regularization of the second row "
                f"chosen on the validation slice; most-rated through ALS's scorer: nDCG@10 "
                f"{als.most_rated_ndcg:.4f}"
            ),
            extra=("fit s",),
        )
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--books", type=int, default=10_000)
    parser.add_argument("--ratings", type=int, default=5_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--arch", default="default")
    parser.add_argument("--als-factors", type=int, default=64)
    parser.add_argument("--catalog", type=Path, default=REAL_BOOKS, help="a goodbooks books.csv")
    parser.add_argument(
        "--epochs", type=int, default=None, help="only time N epochs + per-reader scoring"
    )
    parser.add_argument("--batch-size", type=int, default=None, help="with --epochs")
    parser.add_argument("--readers", type=int, default=1000, help="with --epochs")
    args = parser.parse_args(argv)
    exit_on_sigterm()
    if args.epochs is None:
        end_to_end(args)
        return

    from _scale_epochs import epoch_benchmark

    started = time.perf_counter()
    book_ids = np.arange(1, args.books + 1, dtype=np.int64)
    frame = synthetic_ratings(args.users, book_ids, args.ratings, args.seed)
    print(
        f"generated {len(frame):,} ratings in {time.perf_counter() - started:.1f}s; "
        f"peak RSS {rss_mb():.0f} MB",
        flush=True,
    )
    frame["stars"] = frame["stars"].astype(np.float32)
    epoch_benchmark(frame, args.arch, args.epochs, args.batch_size, args.readers, args.seed)


if __name__ == "__main__":
    main()
