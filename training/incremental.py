"""Incremental retraining: warm-start the final fit from the current version's vectors.

When the database changed a little since the current version (a few new readers, books or
ratings), `training.pipeline.train_frame` skips the selection fit (it reuses the current
version's epoch count), keeps the holdout fit cold (the current version saw the test part,
so starting the holdout model from it would flatter the held-out metrics the gate reads),
and fits the published model for WARM_FINAL_FRACTION of the epochs from the current
version's arrays (`Architecture.warm_fit_from`: known rows kept, new ones initialised as the
architecture's `warm_start` does). Cold when asked (`--cold`), when there is no current
version, when the architecture or its shape differs, or when the change is large.
bench/warm_start.py --from-artifact measures warm against cold on ML-100K.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from artifact import ArtifactError, Store, read_manifest, verify_checksums
from training.archs.base import Architecture, FitResult
from training.data import Encoded

DEFAULT_MAX_CHANGE = 0.2


@dataclass(frozen=True)
class WarmOptions:
    cold: bool = False  # always a cold fit
    max_change: float = DEFAULT_MAX_CHANGE  # above this share of change: cold


@dataclass(frozen=True)
class Plan:
    source: Path | None  # the version to start from; None: a cold fit
    epochs: int
    reason: str


def _load_arrays(path: Path, manifest: dict) -> dict[str, np.ndarray]:
    verify_checksums(path, manifest)  # the vectors we start from are the ones published
    return {
        name: np.load(path / file, allow_pickle=False) for name, file in manifest["arrays"].items()
    }


def change_share(manifest: dict, arrays: dict[str, np.ndarray], ratings: pd.DataFrame) -> float:
    """How much the data moved since the version: the largest of the shares of new readers,
    new books, and the change in the number of ratings."""
    old_users, old_books = arrays["user_ids"], arrays["book_ids"]
    users = np.unique(ratings["user_id"].to_numpy(np.int64))
    books = np.unique(ratings["book_id"].to_numpy(np.int64))
    new_users = np.setdiff1d(users, old_users, assume_unique=True).size
    new_books = np.setdiff1d(books, old_books, assume_unique=True).size
    old_n = max(int(manifest.get("n_ratings", 0)), 1)
    return max(
        new_users / max(old_users.size, 1),
        new_books / max(old_books.size, 1),
        abs(len(ratings) - old_n) / old_n,
    )


def plan(store: Store, spec: Architecture, ratings: pd.DataFrame, options: WarmOptions) -> Plan:
    if options.cold:
        return Plan(None, 0, "cold fit (asked for)")
    current = store.current()
    if current is None:
        return Plan(None, 0, "cold fit: no current version to start from")
    path = store.path(current)
    try:
        manifest = store.manifest(current)
        arrays = _load_arrays(path, manifest)
    except (ArtifactError, OSError, ValueError) as exc:
        return Plan(None, 0, f"cold fit: {current} is unreadable ({exc})")
    if manifest.get("arch") != spec.name:
        return Plan(None, 0, f"cold fit: {current} is arch {manifest.get('arch')!r}")
    if not spec.can_warm_start(manifest["hyperparameters"], arrays, len(ratings)):
        return Plan(None, 0, f"cold fit: {spec.name} cannot start from {current}")
    share = change_share(manifest, arrays, ratings)
    if share > options.max_change:
        return Plan(
            None, 0, f"cold fit: {share:.1%} changed since {current} (> {options.max_change:.0%})"
        )
    epochs = int(manifest["hyperparameters"].get("epochs", spec.epochs))
    return Plan(path, epochs, f"warm from {current}: {share:.1%} changed")


def warm_fit(
    spec: Architecture,
    data: Encoded,
    scale: tuple[float, float],
    seed: int,
    epochs: int,
    source: Path,
    verbose: int | str,
) -> FitResult | None:
    arrays = _load_arrays(source, read_manifest(source))
    return spec.warm_fit_from(data, scale, seed, epochs, arrays, verbose)
