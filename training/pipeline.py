"""train / evaluate entry points: holdout evaluation -> refit on all ratings -> ONNX artifact.

Flow of ``train`` (the test part is never used for fitting or selection):
1. split ratings per the protocol (per-user, 25% held out, fixed split seed);
2. carve a validation slice from the training part; fit with early stopping -> best epoch E
   (architectures without early stopping use their published epoch count);
3. refit on the whole training part for E epochs, export to ONNX and score the test part
   through the inference layer -> the holdout metrics stored in the manifest;
4. refit on ALL ratings for E epochs, export, parity-check, write the artifact as a new
   version, and make it current unless the gate finds it worse than the current version
   (``force`` overrides the gate).

At scale (>= LARGE_DATA_RATINGS in the training part) steps 2-4 are cheaper, each step still
honest: the selection fit is capped at LARGE_EPOCH_CAP epochs and IS the holdout model (it
was fit on the training part minus the validation slice, so it never saw the test part; the
architecture brings what it serves up to the whole training part's history), and the final
fit warm-starts from it for WARM_FINAL_FRACTION of the epochs where the architecture can
(`Architecture.warm_fit`), cold otherwise. docs/research/model-at-scale.md has the figures.

Incremental (`warm`, used by `bookrec worker`; training.incremental decides): no selection
fit, the holdout fit cold, the final fit warm from the current version's published arrays.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from artifact import DirectoryStore, Store, judge
from inference import Recommender
from training import archs, incremental
from training import data as data_mod
from training.archs.base import Architecture
from training.data import Encoded
from training.evaluation import evaluate_recommender, most_rated_baseline
from training.fit import FitResult, fit
from training.incremental import WarmOptions
from training.split import stratified_split
from training.writer import (
    SPLIT_SEED,
    TEST_FRACTION,
    VALIDATION_FRACTION,
    base_manifest,
    loss_curve,
    plot_loss,
    write_artifact,
)

LARGE_DATA_RATINGS = 1_000_000
# 5M ratings: ~12 s an epoch on 2 shared cores for `readers`; still improving slowly at 40
LARGE_EPOCH_CAP = 40
# bench/warm_start.py (ML-100K): 1/4 of the epochs lands within the gate's tolerance of cold
WARM_FINAL_FRACTION = 0.25


@dataclass
class TrainResult:
    version: str
    path: Path
    published: bool
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    arch: str = "default"
    epochs: int = 0
    fit_seconds: float = 0.0
    parity_max_abs_diff: float = 0.0
    gate: str = ""
    history: dict[str, list[float]] = field(default_factory=dict)
    phase_seconds: dict[str, float] = field(default_factory=dict)
    mode: str = "cold"  # "warm": the final fit started from the current version's vectors
    mode_reason: str = ""  # why incremental retraining went warm or cold


@dataclass
class Selection:
    """Early stopping's outcome: the epoch count, the curves, and the fit itself with the
    encoding of the data it saw (None when there was no selection fit)."""

    epochs: int
    history: dict[str, list[float]]
    fitted: FitResult | None = None
    encoded: Encoded | None = None


def select_epochs(
    arch: Architecture,
    train_part: pd.DataFrame,
    scale: tuple[float, float],
    seed: int,
    epochs: int | None,
    verbose: int | str,
) -> Selection:
    """Epoch count to use: early stopping on a validation slice of the training part."""
    cap = epochs if epochs is not None else arch.epochs
    if not arch.early_stopping:
        return Selection(cap, {})
    inner, val = stratified_split(train_part, VALIDATION_FRACTION, SPLIT_SEED + 1)
    encoded = data_mod.encode(inner)
    validation = encoded.encode(val)
    if validation[0].size == 0:  # too little data for a validation slice: use the epoch cap
        return Selection(cap, {})
    result = fit(arch, encoded, scale, seed, epochs=epochs, validation=validation, verbose=verbose)
    return Selection(result.epochs, result.history, result, encoded)


def epochs_by_validation(
    arch: Architecture,
    train_part: pd.DataFrame,
    scale: tuple[float, float],
    seed: int,
    epochs: int | None,
    verbose: int | str,
) -> tuple[int, dict[str, list[float]]]:
    selection = select_epochs(arch, train_part, scale, seed, epochs, verbose)
    return selection.epochs, selection.history


def train(
    database_url: str,
    model_dir: Store | str | Path,
    arch: str = "default",
    epochs: int | None = None,
    seed: int = 42,
    force: bool = False,
    warm: WarmOptions | None = None,
    before_publish: Callable[[], None] | None = None,
) -> TrainResult:
    """Train `arch` on the database's ratings and write (and maybe publish) an artifact
    into `model_dir`: a model store, or a path meaning a models directory.
    `warm`: retrain incrementally from the current version when it can (`bookrec worker`).
    `before_publish`: called just before CURRENT would switch; raising stops the publish."""
    verbose = (
        1 if sys.stdout.isatty() else 2
    )  # a progress bar on a terminal, a line per epoch in logs
    # Taken BEFORE the ratings are read: every rating at or before it is in the model;
    # the worker counts the ratings after it as new (db.ratings.count_ratings_since).
    started = time.perf_counter()
    high_water = data_mod.ratings_high_water(database_url)
    ratings = data_mod.load_ratings(database_url)
    read_seconds = time.perf_counter() - started
    print(f"read {len(ratings):,} ratings from the database in {read_seconds:.1f} s", flush=True)
    return train_frame(
        ratings,
        model_dir,
        arch,
        epochs,
        seed,
        force,
        verbose=verbose,
        warm=warm,
        high_water=high_water.isoformat() if high_water else None,
        before_publish=before_publish,
        read_seconds=read_seconds,
    )


def train_frame(
    ratings: pd.DataFrame,
    model_dir: Store | str | Path,
    arch: str = "default",
    epochs: int | None = None,
    seed: int = 42,
    force: bool = False,
    verbose: int | str = "auto",
    warm: WarmOptions | None = None,
    high_water: str | None = None,
    before_publish: Callable[[], None] | None = None,
    read_seconds: float | None = None,
) -> TrainResult:
    """`train` on a ratings frame; `read_seconds`, the time `train` took to read it from
    the database, leads the phase timings."""
    started = time.perf_counter()
    phases: dict[str, float] = {} if read_seconds is None else {"db_read_s": read_seconds}
    spec = archs.get(arch)
    ratings = data_mod.normalise(ratings)
    if ratings.empty:
        raise ValueError("no ratings to train on")
    scale = data_mod.rating_scale(ratings)
    store = model_dir if isinstance(model_dir, Store) else DirectoryStore(model_dir)
    plan = incremental.plan(store, spec, ratings, warm) if warm is not None else None
    warm_source = plan.source if plan is not None else None

    # 1-3: honest holdout numbers through the exported graph.
    train_part, test_part = stratified_split(ratings, TEST_FRACTION, SPLIT_SEED)
    large = len(train_part) >= LARGE_DATA_RATINGS
    if large and epochs is None:
        epochs = min(spec.epochs, LARGE_EPOCH_CAP)
    phases["normalise_split_s"] = time.perf_counter() - started
    if warm_source is not None and plan is not None:
        # incremental: the current version's epoch count, no selection fit; the holdout
        # model stays a cold fit on the training part (the current version saw the test
        # part, so starting from it would flatter the held-out metrics)
        selection = Selection(epochs or plan.epochs, {})
    else:
        selection = select_epochs(spec, train_part, scale, seed, epochs, verbose)
    best_epochs, selection_history = selection.epochs, selection.history
    if selection.fitted is not None:
        phases["selection_fit_s"] = selection.fitted.seconds
    if large and selection.fitted is not None and selection.encoded is not None:
        # the selection model as the holdout model: it never saw the test part
        holdout_fit, holdout_data = selection.fitted, selection.encoded
        users, books, _ = holdout_data.encode(train_part)
        spec.prepare_holdout(holdout_fit.model, users, books)
    else:
        holdout_data = data_mod.encode(train_part)
        holdout_fit = fit(spec, holdout_data, scale, seed, epochs=best_epochs, verbose=verbose)
        phases["holdout_fit_s"] = holdout_fit.seconds
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bookrec-holdout-") as tmp:
        manifest = base_manifest(
            spec, best_epochs, seed, train_part, data_mod.rating_scale(train_part)
        )
        manifest.update(version="holdout", metrics={}, baseline_metrics={})
        write_artifact(Path(tmp), holdout_fit, holdout_data, spec, manifest)
        metrics = evaluate_recommender(Recommender.load(tmp), train_part, test_part)
    metrics["fit_seconds"] = holdout_fit.seconds
    baseline = most_rated_baseline(train_part, test_part)
    phases["holdout_export_eval_s"] = time.perf_counter() - started

    # 4: refit on everything with the same configuration (warm at scale, where it can;
    # warm from the current version's vectors when retraining incrementally).
    all_data = data_mod.encode(ratings)
    final_fit = None
    warm_epochs = max(1, round(best_epochs * WARM_FINAL_FRACTION))
    if warm_source is not None:
        final_fit = incremental.warm_fit(
            spec, all_data, scale, seed, warm_epochs, warm_source, verbose
        )
    elif large:
        final_fit = spec.warm_fit(
            all_data, scale, seed, warm_epochs, holdout_fit, holdout_data, verbose
        )
    del holdout_fit, selection  # large models: one at a time in memory
    mode = "warm" if final_fit is not None and warm_source is not None else "cold"
    if final_fit is None:
        final_fit = fit(spec, all_data, scale, seed, epochs=best_epochs, verbose=verbose)
    phases["final_fit_s"] = final_fit.seconds
    started = time.perf_counter()
    with store.new_version() as (version, staging):
        manifest = base_manifest(spec, best_epochs, seed, ratings, scale)
        manifest.update(version=version, metrics=metrics, baseline_metrics=baseline)
        manifest["ratings_high_water"] = high_water  # newest rating updated_at it saw
        if "warm_start" in final_fit.history:  # what the published model really ran
            manifest["hyperparameters"]["final_fit_warm_epochs"] = final_fit.epochs
        manifest["loss_curve"] = loss_curve(final_fit.history, selection_history)
        if mode == "warm" and warm_source is not None:
            manifest["hyperparameters"]["warm_started_from"] = warm_source.name
        plot_loss(final_fit.history, selection_history, staging / "loss.png")
        parity = write_artifact(staging, final_fit, all_data, spec, manifest)
        Recommender.load(staging)  # the published graph must pass the server's own checks

    current, current_metrics = store.current_metrics()
    decision = judge(version, metrics, current, current_metrics, force)
    if decision.publish:
        if before_publish is not None:
            before_publish()
        store.publish(version, check=Recommender.load)
    phases["export_publish_s"] = time.perf_counter() - started
    if verbose:
        print("phases: " + ", ".join(f"{k} {v:.1f}" for k, v in phases.items()), flush=True)
    return TrainResult(
        version=version,
        path=store.path(version),
        published=decision.publish,
        metrics=metrics,
        baseline_metrics=baseline,
        arch=spec.name,
        epochs=best_epochs,
        fit_seconds=metrics["fit_seconds"],
        parity_max_abs_diff=parity,
        gate=decision.reason,
        history=final_fit.history,
        phase_seconds=phases,
        mode=mode,
        mode_reason=plan.reason if plan is not None else "",
    )


@dataclass
class Evaluation:
    """`evaluate`'s rows: the model in-sample and from its manifest, beside the baseline."""

    title: str
    rows: list[tuple[str, dict[str, float]]]


def evaluate(database_url: str, model_path: str | Path) -> Evaluation:
    """Evaluation of a model on the database's ratings (protocol split)."""
    return evaluate_frame(data_mod.load_ratings(database_url), model_path)


def evaluate_frame(ratings: pd.DataFrame, model_path: str | Path) -> Evaluation:
    ratings = data_mod.normalise(ratings)
    rec = Recommender.load(model_path)
    train_part, test_part = stratified_split(ratings, TEST_FRACTION, SPLIT_SEED)
    metrics = evaluate_recommender(rec, train_part, test_part)
    baseline = most_rated_baseline(train_part, test_part)
    name = f"{rec.architecture} {rec.version}"
    rows = [
        (f"{name} in-sample", metrics),
        ("most-rated", baseline),
        (f"{name} held-out*", rec.manifest.get("metrics", {})),
        ("most-rated*", rec.manifest.get("baseline_metrics", {})),
    ]
    title = (
        "Evaluation on the current ratings (per-user 25% split). The published model was refit "
        "on ALL ratings, so its row here is IN-SAMPLE (it has seen the test pairs): optimistic.\n"
        "Rows marked * are the honest held-out numbers recorded at training time (manifest)."
    )
    return Evaluation(title, rows)
