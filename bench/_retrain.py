"""Shared by bench/warm_start.py and bench/quality.py: a fit scored on the protocol's
held-out part through its exported ONNX graph, and a fit published as the "current version"
that the retraining worker's code path (`training.incremental`) warm-starts from."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from artifact import DirectoryStore
from inference import Recommender
from training import incremental
from training.archs.base import Architecture, FitResult
from training.data import Encoded
from training.evaluation import evaluate_recommender
from training.writer import base_manifest, write_artifact


def held_out(
    spec: Architecture,
    fitted: FitResult,
    encoded: Encoded,
    train_part: pd.DataFrame,
    test_part: pd.DataFrame,
    scale: tuple[float, float],
    seed: int,
) -> dict[str, float]:
    """`fitted` (trained on `encoded`) exported, loaded by the inference layer and scored on
    `test_part`, the readers' `train_part` ratings excluded from their lists."""
    with tempfile.TemporaryDirectory(prefix="bookrec-bench-") as tmp:
        manifest = base_manifest(spec, fitted.epochs, seed, train_part, scale)
        manifest.update(version="bench", metrics={}, baseline_metrics={})
        write_artifact(Path(tmp), fitted, encoded, spec, manifest)
        return evaluate_recommender(Recommender.load(tmp), train_part, test_part)


def publish(
    store: DirectoryStore,
    spec: Architecture,
    fitted: FitResult,
    encoded: Encoded,
    frame: pd.DataFrame,
    scale: tuple[float, float],
    seed: int,
) -> str:
    """`fitted` (trained on `frame`, encoded as `encoded`) written and made current in
    `store`, as `bookrec train` publishes a version."""
    with store.new_version() as (version, staging):
        manifest = base_manifest(spec, fitted.epochs, seed, frame, scale)
        manifest.update(version=version, metrics={}, baseline_metrics={})
        write_artifact(staging, fitted, encoded, spec, manifest)
    store.publish(version, check=Recommender.load)
    return version


def warm_from_current(
    store: DirectoryStore,
    spec: Architecture,
    frame: pd.DataFrame,
    encoded: Encoded,
    scale: tuple[float, float],
    seed: int,
    epochs: int,
) -> tuple[FitResult, str]:
    """What `bookrec worker` runs for the final fit: `incremental.plan` on the store's
    current version, then `incremental.warm_fit` from its published arrays for `epochs`."""
    plan = incremental.plan(store, spec, frame, incremental.WarmOptions())
    if plan.source is None:
        raise SystemExit(f"the worker would fit cold: {plan.reason}")
    fitted = incremental.warm_fit(spec, encoded, scale, seed, epochs, plan.source, 0)
    if fitted is None:
        raise SystemExit(f"arch {spec.name!r} cannot warm start from an artifact")
    return fitted, plan.reason
