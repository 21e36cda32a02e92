"""Staff-only reads of the online loop (`onlineMetrics`, `experiment`) and the readers'
`openBook` report. The figures come from `recommend.online_metrics` and
`recommend.experiment_report`; here they only become GraphQL types."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import strawberry
from strawberry.types import Info

from db import experiments as db_experiments
from db import lists as db_lists
from recommend import (
    ExperimentReport,
    OnlineMetricsResult,
    experiment_report,
    online_metrics,
)
from recommend import OnlineGroup as GroupFigures
from recommend import OnlinePoint as PointFigures
from schema.context import Context
from schema.errors import BadUserInput, Forbidden, NotFoundError, Unauthenticated, parse_id

DEFAULT_WINDOW = timedelta(days=7)
MAX_BUCKETS = 2_000  # points per variant in one series
MAX_BUCKET_MINUTES = 7 * 24 * 60
# openBook waits (flush interval by flush interval) for a list another server process made
# moments ago and has not written yet, while its id is young enough (may_still_appear).
VISIBILITY_WAITS = 20


@strawberry.type(description="Online figures of a group of served lists.")
class OnlineGroup:
    model_version: str
    variant: str
    source: str | None = strawberry.field(description="A chain step; null: all of them.")
    lists: int
    impressions: int
    opens: int
    open_rate: float = strawberry.field(description="Opens / impressions (CTR).")
    rate_after_shown: float
    like_after_shown: float
    dislike_after_shown: float
    catalog_coverage: float = strawberry.field(description="Distinct books shown / catalog.")
    mean_opened_position: float | None = strawberry.field(description="1 is the top.")

    @classmethod
    def of(cls, g: GroupFigures) -> OnlineGroup:
        return cls(
            model_version=g.model_version,
            variant=g.variant,
            source=g.source,
            lists=g.lists,
            impressions=g.impressions,
            opens=g.opens,
            open_rate=g.open_rate,
            rate_after_shown=g.rate_after_shown,
            like_after_shown=g.like_after_shown,
            dislike_after_shown=g.dislike_after_shown,
            catalog_coverage=g.catalog_coverage,
            mean_opened_position=g.mean_opened_position,
        )


@strawberry.type
class OnlinePoint:
    start: datetime
    variant: str
    lists: int
    impressions: int
    opens: int
    open_rate: float

    @classmethod
    def of(cls, p: PointFigures) -> OnlinePoint:
        return cls(
            start=p.start,
            variant=p.variant,
            lists=p.lists,
            impressions=p.impressions,
            opens=p.opens,
            open_rate=p.open_rate,
        )


@strawberry.type
class OnlineMetrics:
    groups: list[OnlineGroup]
    series: list[OnlinePoint]

    @classmethod
    def of(cls, m: OnlineMetricsResult) -> OnlineMetrics:
        return cls(
            groups=[OnlineGroup.of(g) for g in m.groups],
            series=[OnlinePoint.of(p) for p in m.series],
        )


@strawberry.type
class Experiment:
    id: strawberry.ID
    version: str
    control_version: str | None
    share: float
    started_at: datetime
    control: OnlineGroup | None
    variant: OnlineGroup | None
    open_rate_difference: float | None = strawberry.field(
        description="The variant's open rate minus control's (signed-in readers' lists)."
    )
    difference_low: float | None = strawberry.field(
        description="95% interval: Wald, with the delta-method variance over readers."
    )
    difference_high: float | None

    @classmethod
    def of(cls, r: ExperimentReport) -> Experiment:
        e = r.experiment
        return cls(
            id=strawberry.ID(str(e.id)),
            version=e.version,
            control_version=e.control_version,
            share=e.share,
            started_at=_utc(e.started_at),
            control=OnlineGroup.of(r.control) if r.control else None,
            variant=OnlineGroup.of(r.variant) if r.variant else None,
            open_rate_difference=r.comparison.difference,
            difference_low=r.comparison.low,
            difference_high=r.comparison.high,
        )


def _utc(stamp: datetime) -> datetime:
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


async def resolve_online_metrics(
    info: Info[Context, None],
    since: datetime | None,
    until: datetime | None,
    bucket_minutes: int,
) -> OnlineMetrics:
    ctx = info.context
    await ctx.require_staff()
    end = _utc(until) if until is not None else datetime.now(UTC)
    start = _utc(since) if since is not None else end - DEFAULT_WINDOW
    if start >= end:
        raise BadUserInput("'since' must be before 'until'.")
    if not 1 <= bucket_minutes <= MAX_BUCKET_MINUTES:
        raise BadUserInput(f"'bucketMinutes' must be between 1 and {MAX_BUCKET_MINUTES}.")
    if (end - start) / timedelta(minutes=bucket_minutes) > MAX_BUCKETS:
        raise BadUserInput(
            f"At most {MAX_BUCKETS} buckets: widen 'bucketMinutes' or narrow the window."
        )
    attribution = timedelta(days=ctx.services.attribution_days)
    found = await ctx.db(online_metrics, start, end, attribution, bucket_minutes * 60)
    return OnlineMetrics.of(found)


async def resolve_experiment(info: Info[Context, None]) -> Experiment | None:
    ctx = info.context
    await ctx.require_staff()
    running = await ctx.db(db_experiments.running_experiment)
    if running is None:
        return None
    attribution = timedelta(days=ctx.services.attribution_days)
    report = await ctx.db(experiment_report, running, datetime.now(UTC), attribution)
    return Experiment.of(report)


def _list_key(value: str) -> str:
    if not (0 < len(value) <= 64 and value.isascii()):
        raise BadUserInput("'listId' takes the listId of a served list's item.")
    return value


async def open_book(
    info: Info[Context, None], book_id: strawberry.ID, list_id: strawberry.ID
) -> bool:
    """A reader opened `book_id` from the list `list_id`. Anyone may report on a list served
    anonymously; a reader's list only by that reader. True if recorded, False if this open
    was recorded before."""
    ctx = info.context
    book = parse_id(book_id, "book id")
    key = _list_key(str(list_id))
    claim = ctx.viewer_claim()  # checked against the account below, before writing
    viewer = claim.user_id if claim else None
    service = ctx.services.recommendations
    # Before this operation's write transaction: a list still buffered here is written
    # now; one another server made moments ago is waited for (a short, bounded wait).
    await service.write_if_buffered(key)
    for attempt in range(VISIBILITY_WAITS + 1):
        stored, owner = await ctx.db_apart(db_lists.list_owner, key)
        if stored or attempt == VISIBILITY_WAITS or not service.may_still_appear(key):
            break
        await asyncio.sleep(service.recorder.flush_seconds)
    if not stored:
        raise NotFoundError(f"No list with id {key}.")
    if owner is not None and viewer is None:
        raise Unauthenticated("This list was served to a signed-in reader: sign in to report it.")
    if owner is not None and owner != viewer:
        raise Forbidden("This list was served to another reader.")
    if viewer is not None:
        await ctx.require_existing_viewer()
    return await ctx.db(db_lists.record_open, key, book, viewer)
