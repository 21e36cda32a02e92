"""GraphQL object types. They wrap rows from `db/` and resolve relations via dataloaders."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from db import ratings as db_ratings
from db.catalog import BookLike, BookRow, CategoryRow, RatingStats
from db.models import FEEDBACK_DISLIKED, FEEDBACK_LIKED
from db.models import Category as CategoryTable
from db.models import Rating as RatingRow
from db.models import User as UserRow
from schema.context import Context
from schema.errors import Forbidden
from schema.execution import NOT_READ, prefetched
from schema.pagination import check_first, parse_rating_cursor, rating_cursor

CategoryLike = CategoryTable | CategoryRow  # an ORM row, or a plain row from the fast path


def _aware(stamp: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


@strawberry.enum(description="A reader's explicit like or dislike of a book.")
class Feedback(Enum):
    LIKED = FEEDBACK_LIKED
    DISLIKED = FEEDBACK_DISLIKED


@strawberry.type
class Category:
    id: strawberry.ID
    name: str

    @strawberry.field(description="How many books are in this category.")
    async def book_count(self, info: Info[Context, None]) -> int:
        return await info.context.loaders.category_book_count.load(int(self.id))

    @classmethod
    def from_row(cls, row: CategoryLike) -> Category:
        """One object per (id, name), shared by every request that shows it (a page of
        books shows a few categories forty times): nothing changes a Category object, and a
        renamed category is another key."""
        key = (row.id, row.name)
        found = _CATEGORY_OBJECTS.get(key)
        if found is None:
            if len(_CATEGORY_OBJECTS) >= _CATEGORY_OBJECTS_MAX:
                _CATEGORY_OBJECTS.clear()
            found = _CATEGORY_OBJECTS[key] = cls(id=strawberry.ID(str(row.id)), name=row.name)
        return found


_CATEGORY_OBJECTS: dict[tuple[Any, str], Category] = {}
_CATEGORY_OBJECTS_MAX = 4096
_BOOK_OBJECTS: dict[tuple[BookRow, tuple[CategoryRow, ...] | None], Book] = {}
_BOOK_OBJECTS_MAX = 20_000


@strawberry.type
class Book:
    id: strawberry.ID
    title: str
    authors: str
    year: int | None
    isbn: str | None
    description: str | None
    cover_url: str | None
    like_count: int
    hidden: bool = strawberry.field(
        description="Hidden by staff: never listed or recommended to readers, who never see "
        "one (its ratings are kept)."
    )

    # Values read with the book in the same trip (recommendations, a catalog page): then
    # these fields are plain values, not a task per book (graphql-core makes one per
    # awaitable) nor a resolver call (whole-object plans read them); otherwise they come
    # from the request's dataloaders. NOT_READ: not read in the trip (None is a value).
    prefetched_categories: strawberry.Private[list[Category] | None] = None
    prefetched_average: strawberry.Private[Any] = NOT_READ  # float | None
    prefetched_count: strawberry.Private[Any] = NOT_READ  # int
    prefetched_my_rating: strawberry.Private[Any] = NOT_READ  # float | None: the viewer's
    prefetched_my_feedback: strawberry.Private[Any] = NOT_READ  # Feedback | None

    @classmethod
    def from_row(
        cls,
        row: BookLike,
        categories: Sequence[CategoryLike] | None = None,
        stats: RatingStats | None = None,
        my_half_stars: dict[int, int] | None = None,
        my_feedback: dict[int, str] | None = None,
    ) -> Book:
        # The columns of db.catalog.BookRow, which every book read returns (a drift fails at
        # import, in `filled_in_defaults`).
        fields: dict[str, Any]
        if type(row) is BookRow:  # the fast path's rows: a tuple in the field order
            fields = dict(zip(BookRow._fields, row, strict=True))
        else:
            fields = {name: getattr(row, name) for name in BookRow._fields}
        fields.update(_BOOK_DEFAULTS)  # the fields a row has no column for
        book_id = int(fields["id"])  # a stored book: never None
        fields["id"] = strawberry.ID(str(book_id))
        if stats is not None:
            fields["prefetched_average"] = _average(stats)
            fields["prefetched_count"] = stats.count
        if my_half_stars is not None:  # the viewer's ratings (read only for a viewer)
            half = my_half_stars.get(book_id)
            fields["prefetched_my_rating"] = None if half is None else half / 2.0
        if my_feedback is not None:
            kind = my_feedback.get(book_id)
            fields["prefetched_my_feedback"] = None if kind is None else Feedback(kind)
        if categories is not None:
            fields["prefetched_categories"] = [Category.from_row(c) for c in categories]
        # Every field set, as the dataclass's __init__ would set them (a recommendations
        # page makes twenty books; its keyword call was a fifth of their cost).
        book = object.__new__(cls)
        book.__dict__.update(fields)
        return book

    @classmethod
    def shown(cls, row: BookRow, categories: Sequence[CategoryRow] | None = None) -> Book:
        """`from_row` of a book as a list shows it (no viewer's values), one object per
        (row, categories) shared by every request that shows it, as `Category.from_row`:
        nothing changes a Book object, whatever the viewer's comes from the request's
        loaders, and a changed row (a new title, like count...) is another key."""
        key = (row, None if categories is None else tuple(categories))
        found = _BOOK_OBJECTS.get(key)
        if found is None:
            if len(_BOOK_OBJECTS) >= _BOOK_OBJECTS_MAX:
                _BOOK_OBJECTS.clear()
            found = _BOOK_OBJECTS[key] = cls.from_row(row, categories)
        return found

    @strawberry.field
    @prefetched("prefetched_categories")
    def categories(self, info: Info[Context, None]) -> list[Category]:
        if self.prefetched_categories is not None:
            return self.prefetched_categories
        return self._load_categories(info)  # type: ignore[return-value]  # awaited by graphql-core

    async def _load_categories(self, info: Info[Context, None]) -> list[Category]:
        rows = await info.context.loaders.book_categories.load(int(self.id))
        return [Category.from_row(r) for r in rows]

    @strawberry.field(description="Mean stars over all readers' ratings; null if unrated.")
    @prefetched("prefetched_average", missing=NOT_READ)
    def average_rating(self, info: Info[Context, None]) -> float | None:
        if self.prefetched_average is not NOT_READ:
            return self.prefetched_average  # type: ignore[no-any-return]
        return self._load_average(info)  # type: ignore[return-value]  # awaited by graphql-core

    async def _load_average(self, info: Info[Context, None]) -> float | None:
        return _average(await info.context.loaders.rating_stats.load(int(self.id)))

    @strawberry.field
    @prefetched("prefetched_count", missing=NOT_READ)
    def ratings_count(self, info: Info[Context, None]) -> int:
        if self.prefetched_count is not NOT_READ:
            return self.prefetched_count  # type: ignore[no-any-return]
        return self._load_count(info)  # type: ignore[return-value]  # awaited by graphql-core

    async def _load_count(self, info: Info[Context, None]) -> int:
        return (await info.context.loaders.rating_stats.load(int(self.id))).count

    @strawberry.field(description="The signed-in reader's stars for this book; null if none.")
    @prefetched("prefetched_my_rating", missing=NOT_READ)
    def my_rating(self, info: Info[Context, None]) -> float | None:
        if self.prefetched_my_rating is not NOT_READ:  # the viewer's, read with the page
            return self.prefetched_my_rating  # type: ignore[no-any-return]
        if info.context.viewer_claim() is None:  # anonymous: no trip, no task
            return None
        return self._load_my_rating(info)  # type: ignore[return-value]  # awaited by graphql-core

    async def _load_my_rating(self, info: Info[Context, None]) -> float | None:
        viewer = await info.context.signed_in_id()  # the account honours the token now
        if viewer is None:
            return None
        row = await info.context.loaders.viewer_rating.load((viewer, int(self.id)))
        return None if row is None else row.half_stars / 2.0

    @strawberry.field(description="The signed-in reader's like or dislike; null if none.")
    @prefetched("prefetched_my_feedback", missing=NOT_READ)
    def my_feedback(self, info: Info[Context, None]) -> Feedback | None:
        if self.prefetched_my_feedback is not NOT_READ:  # the viewer's, read with the page
            return self.prefetched_my_feedback  # type: ignore[no-any-return]
        if info.context.viewer_claim() is None:  # anonymous: no trip, no task
            return None
        return self._load_my_feedback(info)  # type: ignore[return-value]  # awaited by graphql-core

    async def _load_my_feedback(self, info: Info[Context, None]) -> Feedback | None:
        viewer = await info.context.signed_in_id()  # the account honours the token now
        if viewer is None:
            return None
        kind = await info.context.loaders.viewer_feedback.load((viewer, int(self.id)))
        return None if kind is None else Feedback(kind)


def filled_in_defaults(cls: type, given: Iterable[str]) -> dict[str, Any]:
    """For making `cls` objects by filling in their instance dict (what the dataclass's
    __init__ sets, without its keyword call): the defaults of the fields not `given`.
    Checked once, at import, as the __init__ checks on every call: a given name that is not
    a field, or a field not given that has no default or a default made per object
    (default_factory), raises TypeError."""
    given = set(given)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    problems = [f"{name!r} is not a field" for name in sorted(given - fields.keys())]
    defaults: dict[str, Any] = {}
    for name, field in fields.items():
        if name in given:
            continue
        if field.default_factory is not dataclasses.MISSING:
            problems.append(f"{name!r} has a default_factory and is not given")
        elif field.default is dataclasses.MISSING:
            problems.append(f"{name!r} has no default and is not given")
        else:
            defaults[name] = field.default
    if problems:
        raise TypeError(f"{cls.__name__} cannot be filled in: {'; '.join(problems)}")
    return defaults


# What `from_row` leaves unset (the prefetched values) unless it read them.
_BOOK_DEFAULTS = filled_in_defaults(Book, BookRow._fields)


@strawberry.type
class Rating:
    book_id: strawberry.Private[int]
    stars: float
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: RatingRow) -> Rating:
        return cls(
            book_id=row.book_id,
            stars=row.half_stars / 2.0,
            created_at=_aware(row.created_at),
            updated_at=_aware(row.updated_at),
        )

    @strawberry.field
    async def book(self, info: Info[Context, None]) -> Book:
        row = await info.context.loaders.book.load(self.book_id)
        assert row is not None  # a rating's book exists: foreign key
        return Book.from_row(row)


def _average(stats: RatingStats) -> float | None:
    return None if stats.average_stars is None else round(stats.average_stars, 3)


def page_info(cursors: list[str], has_next_page: bool) -> relay.PageInfo:
    """Keyset pages only go forwards: `hasPreviousPage` is false, as the Relay spec allows
    when paginating with `first`/`after`."""
    return relay.PageInfo(
        has_next_page=has_next_page,
        has_previous_page=False,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )


# strawberry's Relay types, without Relay's global ids: ids stay the plain decimal ones
# every other field uses (the type variable's `Node` bound is for typing only).
@strawberry.type(name="RatingConnection")
class RatingConnection(relay.Connection[Rating]):  # type: ignore[type-var]
    total_count: int


@strawberry.type
class User:
    id: strawberry.ID
    username: str
    staff: strawberry.Private[bool] = False

    @classmethod
    def from_row(cls, row: UserRow) -> User:
        return cls(id=strawberry.ID(str(row.id)), username=row.username, staff=row.is_staff)

    @strawberry.field(
        description="Whether this account is staff (may manage the catalog and models); "
        "only for the reader themselves, null for anyone else."
    )
    async def is_staff(self, info: Info[Context, None]) -> bool | None:
        return self.staff if await info.context.signed_in_id() == int(self.id) else None

    @strawberry.field(description="The categories this reader chose.")
    async def categories(self, info: Info[Context, None]) -> list[Category]:
        rows = await info.context.loaders.user_categories.load(int(self.id))
        return [Category.from_row(r) for r in rows]

    @strawberry.field(description="This reader's ratings, newest first. Only for the reader.")
    async def ratings(
        self, info: Info[Context, None], first: int = 20, after: str | None = None
    ) -> RatingConnection:
        user_id = int(self.id)
        if await info.context.signed_in_id() != user_id:
            raise Forbidden("Only the reader can see their own ratings.")
        limit = check_first(first)
        cursor = parse_rating_cursor(after) if after else None
        rows = await info.context.db(db_ratings.ratings_page, user_id, cursor, limit)
        total = await info.context.db(db_ratings.count_ratings_of_user, user_id)
        edges = [
            relay.Edge(  # type: ignore[type-var]
                cursor=rating_cursor(_aware(r.updated_at), r.book_id), node=Rating.from_row(r)
            )
            for r in rows[:limit]
        ]
        return RatingConnection(
            edges=edges,
            page_info=page_info([e.cursor for e in edges], has_next_page=len(rows) > limit),
            total_count=total,
        )


@strawberry.type(name="BookConnection")
class BookConnection(relay.Connection[Book]):  # type: ignore[type-var]
    total_count_: strawberry.Private[object]

    @strawberry.field
    async def total_count(self) -> int:
        # Counted only when asked for: a COUNT over a filtered catalog is not free.
        return await self.total_count_()  # type: ignore[operator, no-any-return]


@strawberry.type
class AuthPayload:
    token: str
    user: User
