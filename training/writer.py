"""A fitted model as an artifact directory: graphs, parity check, arrays, manifest, curves."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from artifact import SCHEMA_VERSION, write_manifest
from inference.history import history_hashes
from training import data as data_mod
from training.archs.base import Architecture
from training.export import check_parity, export_graphs, framework_versions
from training.fit import FitResult

SPLIT_SEED = 42  # the protocol's split is fixed, whatever the training seed
TEST_FRACTION = 0.25
VALIDATION_FRACTION = 0.1


def base_manifest(
    arch: Architecture,
    epochs: int,
    seed: int,
    ratings: pd.DataFrame,
    scale: tuple[float, float],
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "arch": arch.name,
        "hyperparameters": {
            **arch.model_params,
            "epochs": epochs,
            "batch_size": arch.batch_size,
            "learning_rate": arch.learning_rate,
            "optimizer": "adam",
            "seed": seed,
            "early_stopping": arch.early_stopping,
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


def write_artifact(
    out_dir: Path,
    fitted: FitResult,
    encoded: data_mod.Encoded,
    arch: Architecture,
    manifest: dict[str, Any],
) -> float:
    """Export, parity-check and write every file plus the manifest into `out_dir`; return
    the largest Keras-vs-onnxruntime difference seen."""
    model = fitted.model
    manifest["hyperparameters"].update(arch.resolved_params(model))
    graphs = export_graphs(model, out_dir, folds_in=arch.folds_in)
    parity = check_parity(model, out_dir)
    arrays = {
        "user_ids": encoded.user_ids.astype(np.int64),
        "book_ids": encoded.book_ids.astype(np.int64),
        # what each reader's ratings were: serving tells a changed history from this
        "user_history_hash": history_hashes(
            encoded.users, encoded.book_ids[encoded.books], encoded.stars, encoded.n_users
        ),
        **arch.arrays(model),
    }
    for name, values in arrays.items():
        np.save(out_dir / f"{name}.npy", values, allow_pickle=False)
    manifest.update(
        {
            "fold_in": arch.fold_in(model),
            "arrays": {name: f"{name}.npy" for name in arrays},
            "graphs": graphs,
            "n_users": encoded.n_users,
            "n_books": encoded.n_books,
            "parity_max_abs_diff": parity,
        }
    )
    write_manifest(out_dir, manifest)
    return parity


def loss_curve(final: dict[str, list[float]], selection: dict[str, list[float]]) -> dict[str, Any]:
    """The manifest's `loss_curve`: per epoch, the training loss and the validation RMSE
    of the fit that chose the epoch count (early stopping), so that both come from one
    fit and show where it stopped; the final fit's loss (no validation) when there was
    no selection fit."""
    source, fit = (selection, "selection") if selection.get("loss") else (final, "final")
    validation = source.get("val_rmse") or []

    def finite(value: float) -> float | None:
        return value if math.isfinite(value) else None

    return {
        "fit": fit,
        "validation": "val_rmse" if validation else None,
        "points": [
            {
                "epoch": epoch,
                "loss": finite(loss),
                "validation_loss": finite(validation[epoch - 1])
                if epoch <= len(validation)
                else None,
            }
            for epoch, loss in enumerate(source.get("loss", []), start=1)
        ],
    }


def plot_loss(
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
