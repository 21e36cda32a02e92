"""The recommendation domain: who is asking (`ReaderState`), what they ask for (`Request`),
the chain that answers (`chain`), and the service that runs it next to the database
(`RecommendationService`). No GraphQL here: `schema/` maps arguments in and results out."""

from recommend.online import (
    ExperimentReport,
    OnlineGroup,
    OnlinePoint,
    experiment_report,
    online_metrics,
)
from recommend.online import OnlineMetrics as OnlineMetricsResult
from recommend.service import RecommendationService, Recommended, Served
from recommend.types import Pick, ReaderState, Request, Source

__all__ = [
    "ExperimentReport",
    "OnlineGroup",
    "OnlineMetricsResult",
    "OnlinePoint",
    "Pick",
    "ReaderState",
    "RecommendationService",
    "Recommended",
    "Request",
    "Served",
    "Source",
    "experiment_report",
    "online_metrics",
]
