"""The model store as staff see it: every version with what its manifest says about it
(held-out metrics beside the popularity baseline, architecture, creation time, loss
curve), and rollback, the same as `bookrec model rollback`."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from artifact import ArtifactError, Store
from inference.recommender import Recommender

log = logging.getLogger("bookrec.model")

# Kept out of the metrics list:
NOT_METRICS = frozenset({"fit_seconds", "users"})  # time and a count, not quality


class NothingToRollBack(Exception):
    """No current version, or none older that passes the server's checks."""


@dataclass(frozen=True)
class Metric:
    name: str
    model: float | None
    popularity: float | None  # the most-rated baseline on the same split


@dataclass(frozen=True)
class LossPoint:
    epoch: int  # from 1
    loss: float
    validation_loss: float | None


@dataclass(frozen=True)
class VersionInfo:
    version: str
    is_current: bool
    created_at: datetime | None
    arch: str | None
    metrics: list[Metric]
    loss_curve: list[LossPoint]
    readable: bool  # False: the manifest could not be read (the rest is then empty)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _created(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def _metrics(manifest: dict[str, Any]) -> list[Metric]:
    model = manifest.get("metrics") or {}
    baseline = manifest.get("baseline_metrics") or {}
    names = [n for n in model if n not in NOT_METRICS]
    names += [n for n in baseline if n not in model and n not in NOT_METRICS]
    return [Metric(n, _number(model.get(n)), _number(baseline.get(n))) for n in names]


def _loss_curve(manifest: dict[str, Any]) -> list[LossPoint]:
    """The manifest's `loss_curve` (written since training records it; older artifacts
    have none: an empty curve)."""
    curve = manifest.get("loss_curve")
    points = []
    for point in curve.get("points", []) if isinstance(curve, dict) else []:
        if not isinstance(point, dict):
            continue
        epoch, loss = point.get("epoch"), _number(point.get("loss"))
        if isinstance(epoch, int) and loss is not None:
            points.append(LossPoint(epoch, loss, _number(point.get("validation_loss"))))
    return points


def describe(store: Store, version: str, current: str | None) -> VersionInfo:
    try:
        manifest = store.manifest(version)
    except ArtifactError:
        return VersionInfo(version, version == current, None, None, [], [], readable=False)
    arch = manifest.get("arch")
    return VersionInfo(
        version=version,
        is_current=version == current,
        created_at=_created(manifest.get("created_at")),
        arch=arch if isinstance(arch, str) else None,
        metrics=_metrics(manifest),
        loss_curve=_loss_curve(manifest),
        readable=True,
    )


def list_versions(store: Store) -> list[VersionInfo]:
    """Every version, newest first. Blocking (reads the manifests)."""
    try:
        current = store.current()
    except ArtifactError:  # a CURRENT that names no version: none is current
        current = None
    return [describe(store, v, current) for v in reversed(store.versions())]


def rollback(store: Store) -> VersionInfo:
    """Make the newest older version that loads for serving current (`bookrec model
    rollback`); NothingToRollBack if there is none. Blocking: it loads candidates."""
    try:
        version = store.rollback(check=Recommender.load)
    except ArtifactError as exc:
        # The detail names server paths: logged, not shown.
        log.warning("rollback refused: %s", exc)
        try:
            current = store.current()
        except ArtifactError:
            current = None
        if current is None:
            raise NothingToRollBack("There is no current model to roll back from.") from None
        raise NothingToRollBack(
            f"There is no version older than {current} that passes the checks to roll back to."
        ) from None
    log.info("rolled back: %s is current", version)
    return describe(store, version, version)
