"""The reads behind the online metrics: what the served lists showed, what was opened from
them, which ratings and likes followed a showing, in a window of list times. Counting is
done in SQL (GROUP BY); the attribution of ratings to the latest showing, which needs a
per-event "latest within a window", is left to the caller over the few rows of books that
were shown AND rated (see `outcome_candidates`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from db.models import Book, Feedback, Rating, RecList, RecListItem, RecListOpen

_LISTS = RecList.__table__  # type: ignore[attr-defined]
_ITEMS = RecListItem.__table__  # type: ignore[attr-defined]
_OPENS = RecListOpen.__table__  # type: ignore[attr-defined]
_RATINGS = Rating.__table__  # type: ignore[attr-defined]
_FEEDBACK = Feedback.__table__  # type: ignore[attr-defined]
_BOOKS = Book.__table__  # type: ignore[attr-defined]

NO_MODEL = "none"  # lists served by the fallbacks alone, with no model loaded
CONTROL = "control"  # lists recorded before experiments existed count as control


@dataclass(frozen=True)
class Scope:
    """Lists served in [since, until); `readers_only`: signed-in readers' lists only (an
    experiment's population: anonymous readers are never randomised)."""

    since: datetime
    until: datetime
    readers_only: bool = False


def aware(value: Any) -> datetime:
    """SQLite hands timestamps back naive (they were written in UTC)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# Constants are inlined (literal_column), not bound: PostgreSQL matches a grouped
# expression to the selected one by its text, and two bound parameters differ ($1, $2).
def _version() -> Any:
    return sa.func.coalesce(_LISTS.c.model_version, sa.literal_column(f"'{NO_MODEL}'"))


def _variant() -> Any:
    return sa.func.coalesce(_LISTS.c.variant, sa.literal_column(f"'{CONTROL}'"))


def _in_scope(stmt: Any, scope: Scope) -> Any:
    stmt = stmt.where(_LISTS.c.created_at >= scope.since, _LISTS.c.created_at < scope.until)
    if scope.readers_only:
        stmt = stmt.where(_LISTS.c.user_id.is_not(None))
    return stmt


@dataclass(frozen=True)
class ShownCounts:
    model_version: str
    variant: str
    source: str | None  # None: every chain step
    lists: int
    impressions: int
    books: int  # distinct books shown


def shown_counts(session: Session, scope: Scope) -> list[ShownCounts]:
    """Per (model version, variant) and per (model version, variant, chain step)."""
    joined = _ITEMS.join(_LISTS, _LISTS.c.id == _ITEMS.c.list_id)
    counts = (
        sa.func.count(sa.distinct(_ITEMS.c.list_id)),
        sa.func.count(),
        sa.func.count(sa.distinct(_ITEMS.c.book_id)),
    )
    out: list[ShownCounts] = []
    for by_source in (False, True):
        keys = [_version(), _variant()] + ([_ITEMS.c.source] if by_source else [])
        stmt = _in_scope(sa.select(*keys, *counts).select_from(joined), scope).group_by(*keys)
        for row in session.execute(stmt):
            source = row[2] if by_source else None
            lists, impressions, books = row[-3:]
            out.append(
                ShownCounts(row[0], row[1], source, int(lists), int(impressions), int(books))
            )
    return out


@dataclass(frozen=True)
class OpenCounts:
    model_version: str
    variant: str
    source: str
    opens: int
    position_sum: int  # of 0-based positions


def open_counts(session: Session, scope: Scope) -> list[OpenCounts]:
    joined = _OPENS.join(_LISTS, _LISTS.c.id == _OPENS.c.list_id).join(
        _ITEMS,
        sa.and_(_ITEMS.c.list_id == _OPENS.c.list_id, _ITEMS.c.position == _OPENS.c.position),
    )
    keys = [_version(), _variant(), _ITEMS.c.source]
    stmt = _in_scope(
        sa.select(*keys, sa.func.count(), sa.func.sum(_OPENS.c.position)).select_from(joined),
        scope,
    ).group_by(*keys)
    return [OpenCounts(r[0], r[1], r[2], int(r[3]), int(r[4] or 0)) for r in session.execute(stmt)]


@dataclass(frozen=True)
class Candidate:
    """A rating, like or dislike of a book that a list had shown that reader before it."""

    kind: str  # "rating" | "liked" | "disliked"
    user_id: int
    book_id: int
    at: datetime  # when the reader rated (or liked)
    list_id: str
    served_at: datetime  # when that list showed the book
    list_created_at: datetime
    model_version: str
    variant: str
    source: str


def outcome_candidates(session: Session, scope: Scope, window_start: datetime) -> list[Candidate]:
    """Every (event, earlier showing) pair of a reader's rating or like/dislike and a list
    of theirs that showed that book before it, the list made in [window_start, until)
    (window_start = since minus the attribution window, so the latest showing of an event
    is found even when it is outside the scope). The caller keeps, per event, the latest
    showing within the attribution window."""
    out: list[Candidate] = []
    events = (
        ("rating", _RATINGS, _RATINGS.c.updated_at, None),
        ("feedback", _FEEDBACK, _FEEDBACK.c.created_at, _FEEDBACK.c.kind),
    )
    for name, table, at, kind in events:
        stmt = (
            sa.select(
                table.c.user_id,
                table.c.book_id,
                at,
                _ITEMS.c.list_id,
                _ITEMS.c.served_at,
                _LISTS.c.created_at,
                _version(),
                _variant(),
                _ITEMS.c.source,
                kind if kind is not None else sa.literal(name),
            )
            .select_from(
                table.join(_LISTS, _LISTS.c.user_id == table.c.user_id).join(
                    _ITEMS,
                    sa.and_(_ITEMS.c.list_id == _LISTS.c.id, _ITEMS.c.book_id == table.c.book_id),
                )
            )
            .where(
                _LISTS.c.created_at >= window_start,
                _LISTS.c.created_at < scope.until,
                _ITEMS.c.served_at <= at,
            )
        )
        for r in session.execute(stmt):
            out.append(
                Candidate(
                    r[9], r[0], r[1], aware(r[2]), r[3], aware(r[4]), aware(r[5]), r[6], r[7], r[8]
                )
            )
    return out


def catalog_size(session: Session) -> int:
    return int(session.execute(sa.select(sa.func.count()).select_from(_BOOKS)).scalar() or 0)


def _epoch(column: Any, dialect: str) -> Any:
    if dialect == "sqlite":
        return sa.cast(sa.func.strftime("%s", column), sa.Integer)
    return sa.cast(sa.func.floor(sa.extract("epoch", column)), sa.BigInteger)


@dataclass(frozen=True)
class SeriesCounts:
    bucket: int  # whole buckets since `since`
    variant: str
    lists: int
    impressions: int
    opens: int


def series_counts(session: Session, scope: Scope, bucket_seconds: int) -> list[SeriesCounts]:
    """Per bucket of list time (from `since`) and variant: lists, impressions, opens."""
    dialect = session.get_bind().dialect.name
    start: Any = sa.literal_column(str(int(scope.since.timestamp())))
    width: Any = sa.literal_column(str(int(bucket_seconds)))
    bucket = sa.cast((_epoch(_LISTS.c.created_at, dialect) - start) / width, sa.Integer)
    shown = _in_scope(
        sa.select(
            bucket, _variant(), sa.func.count(sa.distinct(_ITEMS.c.list_id)), sa.func.count()
        ).select_from(_ITEMS.join(_LISTS, _LISTS.c.id == _ITEMS.c.list_id)),
        scope,
    ).group_by(bucket, _variant())
    opened = _in_scope(
        sa.select(bucket, _variant(), sa.func.count()).select_from(
            _OPENS.join(_LISTS, _LISTS.c.id == _OPENS.c.list_id)
        ),
        scope,
    ).group_by(bucket, _variant())
    opens = {(int(b), v): int(n) for b, v, n in session.execute(opened)}
    return [
        SeriesCounts(int(b), v, int(lists), int(n), opens.get((int(b), v), 0))
        for b, v, lists, n in session.execute(shown)
    ]


@dataclass(frozen=True)
class ReaderCounts:
    user_id: int
    variant: str
    impressions: int
    opens: int


def reader_counts(session: Session, scope: Scope) -> list[ReaderCounts]:
    """Per signed-in reader and variant: impressions and opens (an experiment's clusters)."""
    reader = Scope(scope.since, scope.until, readers_only=True)
    shown = _in_scope(
        sa.select(_LISTS.c.user_id, _variant(), sa.func.count()).select_from(
            _ITEMS.join(_LISTS, _LISTS.c.id == _ITEMS.c.list_id)
        ),
        reader,
    ).group_by(_LISTS.c.user_id, _variant())
    opened = _in_scope(
        sa.select(_LISTS.c.user_id, _variant(), sa.func.count()).select_from(
            _OPENS.join(_LISTS, _LISTS.c.id == _OPENS.c.list_id)
        ),
        reader,
    ).group_by(_LISTS.c.user_id, _variant())
    opens = {(int(u), v): int(n) for u, v, n in session.execute(opened)}
    return [
        ReaderCounts(int(u), v, int(n), opens.get((int(u), v), 0))
        for u, v, n in session.execute(shown)
    ]
