"""The promotion gate: does a newly trained version become current?

Retraining on a database that changed a little (a few new readers) moves the held-out
metrics by noise; "worse" means worse beyond that, relative to the current version."""

from __future__ import annotations

from dataclasses import dataclass

NDCG_TOLERANCE = 0.02  # nDCG@10 may be at most 2% lower
RMSE_TOLERANCE = 0.01  # RMSE may be at most 1% higher


@dataclass(frozen=True)
class GateDecision:
    publish: bool
    reason: str


def not_worse(new: dict[str, float], old: dict[str, float]) -> bool:
    ranking_ok = new.get("ndcg@10", 0.0) >= old.get("ndcg@10", 0.0) * (1 - NDCG_TOLERANCE)
    rating_ok = new.get("rmse", float("inf")) <= old.get("rmse", float("inf")) * (
        1 + RMSE_TOLERANCE
    )
    return ranking_ok and rating_ok


def judge(
    version: str,
    metrics: dict[str, float],
    current: str | None,
    current_metrics: dict[str, float] | None,
    force: bool = False,
) -> GateDecision:
    """`current_metrics` is None when there is no current version, or when it cannot be
    read (a broken current version never blocks a good new one)."""
    if current_metrics is None:
        return GateDecision(True, f"published {version} as current (first version)")
    if not_worse(metrics, current_metrics):
        return GateDecision(True, f"published {version} as current (not worse)")
    if force:
        return GateDecision(True, f"published {version} as current (forced)")
    return GateDecision(
        False,
        f"kept {version} on disk but NOT current: worse than {current} "
        f"(nDCG@10 {metrics.get('ndcg@10', 0):.4f} vs {current_metrics.get('ndcg@10', 0):.4f}, "
        f"RMSE {metrics.get('rmse', 0):.4f} vs {current_metrics.get('rmse', 0):.4f}); "
        "use force to publish",
    )
