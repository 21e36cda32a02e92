"""train / evaluate entry points: holdout evaluation -> refit on all ratings -> ONNX artifact.

Flow of ``train`` (the test part is never used for fitting or selection):
1. split ratings per the protocol (per-user, 25% held out, fixed split seed);
2. carve a validation slice from the training part; fit with early stopping -> best epoch E
   (architectures without early stopping use their published epoch count);
3. refit on the whole training part for E epochs, export to ONNX and score the test part
   through the inference layer -> the holdout metrics stored in the manifest;
4. refit on ALL ratings for E epochs, export, parity-check, write the artifact, and make it
   current unless it is worse than the current version (``force`` overrides the gate).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from inference import Recommender, artifact

from . import data as data_mod
from .evaluation import evaluate_recommender, format_table, popularity_baseline
from .export import check_parity, export_graphs, framework_versions
from .fit import ArchSpec, FitResult, fit, spec_for
from .split import stratified_split

SPLIT_SEED = 42  # the protocol's split is fixed, whatever the training seed
TEST_FRACTION = 0.25
VALIDATION_FRACTION = 0.1


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

    def table(self) -> str:
        rows = [
            (f"{self.arch} {self.version}", {**self.metrics, "fit s": round(self.fit_seconds, 1)}),
            ("popularity", self.baseline_metrics),
        ]
        title = (
            f"Held-out evaluation (per-user 25% split, model fit on the training part only, "
            f"scored through ONNX); {self.gate}"
        )
        return format_table(rows, title, extra=("fit s",))


def _encoded_frame(frame: pd.DataFrame) -> data_mod.Encoded:
    return data_mod.encode(frame)


def _fit_holdout(
    spec: ArchSpec, train_part: pd.DataFrame, scale, seed: int, epochs: int | None, verbose
) -> tuple[int, dict[str, list[float]]]:
    """Epoch count to use: early stopping on a validation slice of the training part."""
    if not spec.early_stopping:
        return (epochs if epochs is not None else spec.epochs), {}
    inner, val = stratified_split(train_part, VALIDATION_FRACTION, SPLIT_SEED + 1)
    encoded = _encoded_frame(inner)
    validation = encoded.encode(val)
    if validation[0].size == 0:  # too little data for a validation slice: use the epoch cap
        return (epochs if epochs is not None else spec.epochs), {}
    result = fit(spec, encoded, scale, seed, epochs=epochs, validation=validation, verbose=verbose)
    return result.epochs, result.history


def _plot_loss(
    history: dict[str, list[float]], selection: dict[str, list[float]], path: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 2 if selection else 1
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.5), squeeze=False)
    ax = axes[0][0]
    ax.plot(range(1, len(history["loss"]) + 1), history["loss"], marker="o")
    ax.set(title="training loss (final fit)", xlabel="epoch", ylabel="loss")
    if selection:
        ax = axes[0][1]
        epochs = range(1, len(selection["loss"]) + 1)
        ax.plot(epochs, selection["val_rmse"], label="val RMSE", marker="o")
        ax.plot(epochs, selection["val_ndcg"], label="val nDCG@10", marker="o")
        ax.set(title="validation (early stopping)", xlabel="epoch")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def write_artifact(
    out_dir: Path,
    fitted: FitResult,
    encoded: data_mod.Encoded,
    spec: ArchSpec,
    manifest: dict[str, Any],
) -> float:
    """Export, parity-check and write every file plus the manifest into ``out_dir``."""
    model = fitted.model
    if hasattr(model, "softmax"):
        manifest["hyperparameters"]["softmax"] = model.softmax  # "auto" resolved
    graphs = export_graphs(model, out_dir)
    parity = check_parity(model, out_dir)
    arrays: dict[str, np.ndarray] = {
        "user_ids": encoded.user_ids.astype(np.int64),
        "book_ids": encoded.book_ids.astype(np.int64),
        "book_factors": np.asarray(model.book_vectors(), dtype=np.float32),
    }
    if hasattr(model, "book_biases"):
        arrays["book_bias"] = np.asarray(model.book_biases(), dtype=np.float32)
        arrays["rank_projection"] = np.asarray(model.rank_projection.kernel, dtype=np.float32)
        arrays["rank_bias"] = np.asarray(model.rank_bias, dtype=np.float32)
        manifest["fold_in"] = {
            "kind": "joint",  # ridge start, then steps on the model's own objective
            "l2": float(model.l2),
            "rank_weight": float(model.rank_weight),
            "rank_l2": float(model.rank_l2),
            "global_mean": float(model.global_mean),
            "steps": 50,
            "learning_rate": 0.1,
        }
    else:
        manifest["fold_in"] = {"kind": "similarity"}
    for name, values in arrays.items():
        np.save(out_dir / f"{name}.npy", values, allow_pickle=False)
    manifest.update(
        {
            "arrays": {name: f"{name}.npy" for name in arrays},
            "graphs": graphs,
            "n_users": encoded.n_users,
            "n_books": encoded.n_books,
            "parity_max_abs_diff": parity,
        }
    )
    manifest["files"] = {
        p.name: artifact.sha256_file(p)
        for p in sorted(out_dir.iterdir())
        if p.is_file() and p.name != artifact.MANIFEST
    }
    (out_dir / artifact.MANIFEST).write_text(
        json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8"
    )
    return parity


def base_manifest(
    spec: ArchSpec, epochs: int, seed: int, ratings: pd.DataFrame, scale
) -> dict[str, Any]:
    return {
        "schema_version": artifact.SCHEMA_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "arch": spec.name,
        "hyperparameters": {
            **spec.model_params,
            "epochs": epochs,
            "batch_size": spec.batch_size,
            "learning_rate": spec.learning_rate,
            "optimizer": "adam",
            "seed": seed,
            "early_stopping": spec.early_stopping,
        },
        "frameworks": framework_versions(),
        "data_fingerprint": data_mod.fingerprint(ratings),
        "n_ratings": len(ratings),
        "rating_scale": list(scale),
        "rating_mean": float(ratings["stars"].mean()),
        "evaluation": {
            "split": "per-user stratified",
            "test_fraction": TEST_FRACTION,
            "split_seed": SPLIT_SEED,
            "validation_fraction": VALIDATION_FRACTION,
            "metrics_are": "held-out: model refit on the training part, scored via ONNX",
        },
    }


# Retraining on a database that changed a little (a few new readers) moves the held-out
# metrics by noise; "worse" means worse beyond that, relative to the current model.
GATE_NDCG_TOLERANCE = 0.02  # nDCG@10 may be at most 2% lower
GATE_RMSE_TOLERANCE = 0.01  # RMSE may be at most 1% higher


def _not_worse(new: dict[str, float], old: dict[str, float]) -> bool:
    ranking_ok = new.get("ndcg@10", 0.0) >= old.get("ndcg@10", 0.0) * (1 - GATE_NDCG_TOLERANCE)
    rating_ok = new.get("rmse", float("inf")) <= old.get("rmse", float("inf")) * (
        1 + GATE_RMSE_TOLERANCE
    )
    return ranking_ok and rating_ok


def train(
    database_url: str,
    model_dir: str | Path,
    arch: str = "default",
    epochs: int | None = None,
    seed: int = 42,
    force: bool = False,
) -> TrainResult:
    """Train ``arch`` on the database's ratings and write (and maybe publish) an artifact."""
    # a progress bar on a terminal, one line per epoch in logs
    verbose = 1 if sys.stdout.isatty() else 2
    return train_frame(
        data_mod.load_ratings(database_url), model_dir, arch, epochs, seed, force, verbose=verbose
    )


def train_frame(
    ratings: pd.DataFrame,
    model_dir: str | Path,
    arch: str = "default",
    epochs: int | None = None,
    seed: int = 42,
    force: bool = False,
    verbose: int | str = "auto",
) -> TrainResult:
    spec = spec_for(arch)
    ratings = data_mod.normalise(ratings)
    if ratings.empty:
        raise ValueError("no ratings to train on")
    scale = data_mod.rating_scale(ratings)
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)

    # 1-3: honest holdout numbers through the exported graph.
    train_part, test_part = stratified_split(ratings, TEST_FRACTION, SPLIT_SEED)
    best_epochs, selection = _fit_holdout(spec, train_part, scale, seed, epochs, verbose)
    holdout_data = _encoded_frame(train_part)
    holdout_fit = fit(spec, holdout_data, scale, seed, epochs=best_epochs, verbose=verbose)
    with tempfile.TemporaryDirectory(prefix="bookrec-holdout-") as tmp:
        manifest = base_manifest(
            spec, best_epochs, seed, train_part, data_mod.rating_scale(train_part)
        )
        manifest.update(version="holdout", metrics={}, baseline_metrics={})
        write_artifact(Path(tmp), holdout_fit, holdout_data, spec, manifest)
        metrics = evaluate_recommender(Recommender.load(tmp), train_part, test_part)
    metrics["fit_seconds"] = holdout_fit.seconds
    baseline = popularity_baseline(train_part, test_part)

    # 4: refit on everything with the same configuration and epoch count.
    all_data = _encoded_frame(ratings)
    final_fit = fit(spec, all_data, scale, seed, epochs=best_epochs, verbose=verbose)
    version = artifact.next_version(model_dir)
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=model_dir))
    try:
        manifest = base_manifest(spec, best_epochs, seed, ratings, scale)
        manifest.update(version=version, metrics=metrics, baseline_metrics=baseline)
        _plot_loss(final_fit.history, selection, staging / "loss.png")
        parity = write_artifact(staging, final_fit, all_data, spec, manifest)
        staging.chmod(0o755)  # mkdtemp makes it private
        Recommender.load(staging)  # the published graph must pass the server's own checks
        os.replace(staging, model_dir / version)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

    published, gate = _gate(model_dir, version, metrics, force)
    return TrainResult(
        version=version,
        path=model_dir / version,
        published=published,
        metrics=metrics,
        baseline_metrics=baseline,
        arch=spec.name,
        epochs=best_epochs,
        fit_seconds=holdout_fit.seconds,
        parity_max_abs_diff=parity,
        gate=gate,
        history=final_fit.history,
    )


def _gate(
    model_dir: Path, version: str, metrics: dict[str, float], force: bool
) -> tuple[bool, str]:
    current = artifact.current_version(model_dir)
    old: dict[str, float] | None = None
    if current is not None:
        try:
            old = artifact.read_manifest(model_dir / current)["metrics"]
        except artifact.ArtifactError:
            old = None  # a broken current version never blocks a good new one
    if force or old is None or _not_worse(metrics, old):
        artifact.publish_current(model_dir, version)
        why = (
            "forced" if force and old is not None and not _not_worse(metrics, old) else "not worse"
        )
        return (
            True,
            f"published {version} as current ({why if old is not None else 'first version'})",
        )
    return False, (
        f"kept {version} on disk but NOT current: worse than {current} "
        f"(nDCG@10 {metrics.get('ndcg@10', 0):.4f} vs {old.get('ndcg@10', 0):.4f}, "
        f"RMSE {metrics.get('rmse', 0):.4f} vs {old.get('rmse', 0):.4f}); use force to publish"
    )


def evaluate(database_url: str, model_path: str | Path) -> str:
    """Evaluation table of a model on the database's ratings (protocol split)."""
    return evaluate_frame(data_mod.load_ratings(database_url), model_path)


def evaluate_frame(ratings: pd.DataFrame, model_path: str | Path) -> str:
    ratings = data_mod.normalise(ratings)
    rec = Recommender.load(model_path)
    train_part, test_part = stratified_split(ratings, TEST_FRACTION, SPLIT_SEED)
    metrics = evaluate_recommender(rec, train_part, test_part)
    baseline = popularity_baseline(train_part, test_part)
    name = f"{rec.manifest['arch']} {rec.version}"
    rows = [
        (f"{name} in-sample", metrics),
        ("popularity", baseline),
        (f"{name} held-out*", rec.manifest.get("metrics", {})),
        ("popularity*", rec.manifest.get("baseline_metrics", {})),
    ]
    title = (
        "Evaluation on the current ratings (per-user 25% split). The published model was refit "
        "on ALL ratings, so its row here is IN-SAMPLE (it has seen the test pairs): optimistic.\n"
        "Rows marked * are the honest held-out numbers recorded at training time (manifest)."
    )
    return format_table(rows, title)
