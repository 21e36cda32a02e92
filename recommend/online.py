"""Online metrics of the served lists, and the comparison of an experiment's groups.

Rates are per impression (one book at one position of one list):
- open rate (CTR): books opened from the lists / books shown;
- rate-, like-, dislike-after-shown: ratings (likes, dislikes) of a shown book by the
  reader it was shown to, within the attribution window after the showing, attributed to
  the LATEST list that showed it before the event, / books shown;
- catalog coverage: distinct books shown / books in the catalog;
- mean opened position: 1 is the top of a list.

Attribution is computed here, when the metrics are read, rather than recorded when a
rating is written: a rating stays one fast statement (no lookup of the lists that showed
the book, which may still be in a server's write buffer), and changing the window changes
past figures consistently.

The experiment's interval: impressions of one reader are not independent (the same tastes
answer every list), so the per-impression binomial (Wald or Newcombe) interval would be
too narrow. The reader is the unit that was randomised; the open rate is a ratio of two
per-reader sums, and its variance is taken by the delta method over readers (Deng, Knoblich
and Lu, "Applying the delta method in metric analytics", KDD 2018): a cluster-robust Wald
interval, 95%, on the difference of the groups' open rates.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session

from db import online
from db.models import Experiment
from db.online import Candidate, ReaderCounts, Scope

Z_95 = 1.959963984540054
VARIANT = "variant"
CONTROL = online.CONTROL
GroupKey = tuple[str, str, str | None]  # (model version, variant, source or None: all steps)


@dataclass
class OnlineGroup:
    model_version: str
    variant: str
    source: str | None
    lists: int = 0
    impressions: int = 0
    opens: int = 0
    books: int = 0
    ratings: int = 0
    likes: int = 0
    dislikes: int = 0
    position_sum: int = 0
    catalog_size: int = 0

    @property
    def open_rate(self) -> float:
        return _ratio(self.opens, self.impressions)

    @property
    def rate_after_shown(self) -> float:
        return _ratio(self.ratings, self.impressions)

    @property
    def like_after_shown(self) -> float:
        return _ratio(self.likes, self.impressions)

    @property
    def dislike_after_shown(self) -> float:
        return _ratio(self.dislikes, self.impressions)

    @property
    def catalog_coverage(self) -> float:
        return _ratio(self.books, self.catalog_size)

    @property
    def mean_opened_position(self) -> float | None:
        return self.position_sum / self.opens + 1 if self.opens else None


@dataclass(frozen=True)
class OnlinePoint:
    start: datetime
    variant: str
    lists: int
    impressions: int
    opens: int

    @property
    def open_rate(self) -> float:
        return _ratio(self.opens, self.impressions)


@dataclass
class OnlineMetrics:
    since: datetime
    until: datetime
    groups: list[OnlineGroup] = field(default_factory=list)
    series: list[OnlinePoint] = field(default_factory=list)


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


def online_metrics(
    session: Session,
    since: datetime,
    until: datetime,
    attribution: timedelta,
    bucket_seconds: int = 3600,
    readers_only: bool = False,
) -> OnlineMetrics:
    """The metrics of the lists served in [since, until), per (model version, variant) with
    every chain step (source None), and per chain step; the series per bucket and variant."""
    scope = Scope(since, until, readers_only)
    catalog = online.catalog_size(session)
    groups: dict[GroupKey, OnlineGroup] = {}

    def group(key: GroupKey) -> OnlineGroup:
        if key not in groups:
            groups[key] = OnlineGroup(*key, catalog_size=catalog)
        return groups[key]

    for shown in online.shown_counts(session, scope):
        g = group((shown.model_version, shown.variant, shown.source))
        g.lists, g.impressions, g.books = shown.lists, shown.impressions, shown.books
    for opened in online.open_counts(session, scope):
        for source in (opened.source, None):
            g = group((opened.model_version, opened.variant, source))
            g.opens += opened.opens
            g.position_sum += opened.position_sum
    candidates = online.outcome_candidates(session, scope, since - attribution)
    for event in attribute(candidates, attribution):
        if not (since <= event.list_created_at < until):
            continue  # its latest showing was before the window
        for source in (event.source, None):
            g = group((event.model_version, event.variant, source))
            if event.kind == "rating":
                g.ratings += 1
            elif event.kind == "liked":
                g.likes += 1
            else:
                g.dislikes += 1
    series = [
        OnlinePoint(
            since + timedelta(seconds=c.bucket * bucket_seconds),
            c.variant,
            c.lists,
            c.impressions,
            c.opens,
        )
        for c in online.series_counts(session, scope, bucket_seconds)
    ]
    ordered = sorted(
        (g for g in groups.values() if g.impressions),
        key=lambda g: (g.model_version, g.variant, g.source is not None, g.source or ""),
    )
    return OnlineMetrics(since, until, ordered, sorted(series, key=lambda p: (p.start, p.variant)))


def attribute(candidates: Iterable[Candidate], window: timedelta) -> list[Candidate]:
    """Per event (kind, reader, book), the latest showing at most `window` before it."""
    latest: dict[tuple[str, int, int], Candidate] = {}
    for c in candidates:
        if c.served_at < c.at - window:
            continue
        key = (c.kind, c.user_id, c.book_id)
        best = latest.get(key)
        if best is None or (c.served_at, c.list_id) > (best.served_at, best.list_id):
            latest[key] = c
    return list(latest.values())


@dataclass(frozen=True)
class RatioEstimate:
    readers: int
    opens: int
    impressions: int
    variance: float | None  # of the open rate, by the delta method over readers

    @property
    def rate(self) -> float:
        return _ratio(self.opens, self.impressions)


def ratio_estimate(readers: Sequence[ReaderCounts]) -> RatioEstimate:
    n = len(readers)
    opens = sum(r.opens for r in readers)
    impressions = sum(r.impressions for r in readers)
    if n < 2 or impressions == 0:
        return RatioEstimate(n, opens, impressions, None)
    rate = opens / impressions
    mean_m = impressions / n
    residuals = [r.opens - rate * r.impressions for r in readers]
    mean_r = sum(residuals) / n  # 0 by construction; kept for clarity
    var = sum((x - mean_r) ** 2 for x in residuals) / (n - 1)
    return RatioEstimate(n, opens, impressions, var / (n * mean_m**2))


@dataclass(frozen=True)
class Comparison:
    control: RatioEstimate
    variant: RatioEstimate
    difference: float | None  # variant's open rate minus control's
    low: float | None  # the 95% interval
    high: float | None


def compare(readers: Sequence[ReaderCounts]) -> Comparison:
    control = ratio_estimate([r for r in readers if r.variant == CONTROL])
    variant = ratio_estimate([r for r in readers if r.variant == VARIANT])
    if not (control.impressions and variant.impressions):
        return Comparison(control, variant, None, None, None)
    difference = variant.rate - control.rate
    if control.variance is None or variant.variance is None:
        return Comparison(control, variant, difference, None, None)
    half = Z_95 * math.sqrt(control.variance + variant.variance)
    return Comparison(control, variant, difference, difference - half, difference + half)


@dataclass(frozen=True)
class ExperimentReport:
    experiment: Experiment
    until: datetime
    control: OnlineGroup | None
    variant: OnlineGroup | None
    comparison: Comparison


def experiment_report(
    session: Session, experiment: Experiment, now: datetime, attribution: timedelta
) -> ExperimentReport:
    """The experiment's two groups over its lifetime: signed-in readers' lists only."""
    since = online.aware(experiment.started_at)
    until = online.aware(experiment.stopped_at) if experiment.stopped_at else now
    until = max(until, since)
    metrics = online_metrics(session, since, until, attribution, readers_only=True)
    by_variant: dict[str, OnlineGroup] = {}
    for g in metrics.groups:
        if g.source is not None:
            continue
        merged = by_variant.setdefault(
            g.variant,
            OnlineGroup(
                experiment.version if g.variant == VARIANT else experiment.control_version or "",
                g.variant,
                None,
                catalog_size=g.catalog_size,
            ),
        )
        _merge(merged, g)
    readers = online.reader_counts(session, Scope(since, until, readers_only=True))
    return ExperimentReport(
        experiment, until, by_variant.get(CONTROL), by_variant.get(VARIANT), compare(readers)
    )


def _merge(into: OnlineGroup, g: OnlineGroup) -> None:
    """Adds a model version's figures to a group (a control group may span two versions).
    Distinct books are summed, an upper bound if versions showed the same books."""
    for name in (
        "lists",
        "impressions",
        "opens",
        "books",
        "ratings",
        "likes",
        "dislikes",
        "position_sum",
    ):
        setattr(into, name, getattr(into, name) + getattr(g, name))
    into.books = min(into.books, into.catalog_size)
