"""Read operations."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated

import strawberry
from strawberry import relay
from strawberry.types import Info

from db import catalog, catalog_page
from db.catalog import BookFilter
from schema.context import SESSION_ENDED, Context
from schema.errors import BadUserInput, Unauthenticated, parse_id
from schema.online import Experiment, OnlineMetrics, resolve_experiment, resolve_online_metrics
from schema.pagination import book_cursor, check_first, parse_book_cursor
from schema.recommendations import (
    ModelInfo,
    Recommendation,
    resolve_model_info,
    resolve_recommendations,
    resolve_similar_books,
    selected_names,
)
from schema.staff import ModelVersion, resolve_model_versions
from schema.training_runs import TrainingRun, resolve_training_runs
from schema.types import Book, BookConnection, Category, User, page_info

MAX_SEARCH = 200


@strawberry.type
class Query:
    @strawberry.field(description="The catalog, in id order, optionally filtered.")
    async def books(
        self,
        info: Info[Context, None],
        first: int = 20,
        after: str | None = None,
        category_id: strawberry.ID | None = None,
        search: str | None = None,
        include_hidden: Annotated[
            bool | None,
            strawberry.argument(description="Staff only: list hidden books too."),
        ] = False,
    ) -> BookConnection:
        ctx = info.context
        limit = check_first(first)
        after_id = parse_book_cursor(after) if after else None
        if search is not None and len(search) > MAX_SEARCH:
            raise BadUserInput(f"'search' is limited to {MAX_SEARCH} characters.")
        if include_hidden:
            await ctx.require_staff()
        flt = BookFilter(
            category_id=parse_id(category_id, "category id") if category_id is not None else None,
            search=search.strip() or None if search else None,
            include_hidden=bool(include_hidden),
        )
        # One trip for the page and what its books' fields need (categories, rating stats,
        # the viewer's ratings, when selected): plain values, not a task per book and field.
        wanted = selected_names(info)
        claim = ctx.viewer_claim() if wanted & {"myRating", "myFeedback"} else None
        page = await ctx.db_fast(
            catalog_page.book_page_rows,
            flt,
            after_id,
            limit,
            "categories" in wanted,
            bool(wanted & {"averageRating", "ratingsCount"}),
            claim and (claim.user_id, claim.epoch),
            "myRating" in wanted,
            "myFeedback" in wanted,
        )
        if claim is not None and not page.viewer_honoured:
            raise Unauthenticated(SESSION_ENDED)
        rows = page.rows
        stats = page.stats or {}
        books = [
            Book.from_row(
                r,
                None if page.categories is None else page.categories.get(r.id, []),
                stats.get(r.id),
                page.my_ratings,
                page.my_feedback,
            )
            for r in rows
        ]
        edges = [
            relay.Edge(cursor=book_cursor(int(b.id)), node=b)  # type: ignore[type-var]
            for b in books[:limit]
        ]
        return BookConnection(
            edges=edges,
            page_info=page_info([e.cursor for e in edges], has_next_page=len(rows) > limit),
            total_count_=partial(ctx.db, catalog.count_books, flt),
        )

    @strawberry.field(
        description="A book by id; null if there is none, or if it is hidden (except for staff)."
    )
    async def book(self, info: Info[Context, None], id: strawberry.ID) -> Book | None:
        row = await info.context.loaders.book.load(parse_id(id, "book id"))
        if row is None or (row.hidden and not await info.context.is_staff()):
            return None
        return Book.from_row(row)

    @strawberry.field
    async def categories(self, info: Info[Context, None]) -> list[Category]:
        rows = await info.context.db(catalog.all_categories)
        return [Category.from_row(r) for r in rows]

    @strawberry.field(description="Books for the signed-in reader, best first.")
    async def recommendations(
        self,
        info: Info[Context, None],
        first: int = 10,
        category_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only books of this category, ranked inside it."),
        ] = None,
        exclude_book_ids: Annotated[
            list[strawberry.ID] | None,
            strawberry.argument(
                description="Books never to offer (e.g. those on screen); 500 at most."
            ),
        ] = None,
        diversity: Annotated[
            float,
            strawberry.argument(
                description="0 (default): best scores first; up to 1: more variety, less score."
            ),
        ] = 0.0,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="A listId: the next books of that list, never one it has shown."
            ),
        ] = None,
    ) -> list[Recommendation]:
        return await resolve_recommendations(
            info, first, category_id, exclude_book_ids, diversity, after
        )

    @strawberry.field(description="Books most like this one, for anyone.")
    async def similar_books(
        self,
        info: Info[Context, None],
        book_id: strawberry.ID,
        first: int = 10,
        category_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only books of this category.")
        ] = None,
        exclude_book_ids: Annotated[
            list[strawberry.ID] | None,
            strawberry.argument(description="Books never to offer; 500 at most."),
        ] = None,
    ) -> list[Recommendation]:
        return await resolve_similar_books(info, book_id, first, category_id, exclude_book_ids)

    @strawberry.field(description="The model serving recommendations; null if none is published.")
    def model_info(self, info: Info[Context, None]) -> ModelInfo | None:
        return resolve_model_info(info)

    @strawberry.field(description="Staff: every model version, newest first.")
    async def model_versions(self, info: Info[Context, None]) -> list[ModelVersion]:
        return await resolve_model_versions(info)

    @strawberry.field(
        description="Staff: how the served lists did (lists served in [since, until), by "
        "default the last 7 days), per model version, variant and chain step, and over time."
    )
    async def online_metrics(
        self,
        info: Info[Context, None],
        since: datetime | None = None,
        until: datetime | None = None,
        bucket_minutes: int = 60,
    ) -> OnlineMetrics:
        return await resolve_online_metrics(info, since, until, bucket_minutes)

    @strawberry.field(description="Staff: the running A/B experiment; null when none runs.")
    async def experiment(self, info: Info[Context, None]) -> Experiment | None:
        return await resolve_experiment(info)

    @strawberry.field(description="Staff: retraining runs of `bookrec worker`, newest first.")
    async def training_runs(self, info: Info[Context, None], first: int = 20) -> list[TrainingRun]:
        return await resolve_training_runs(info, first)

    @strawberry.field(description="The signed-in reader; null when anonymous.")
    async def me(self, info: Info[Context, None]) -> User | None:
        # Checked against the database: a valid token of an account deleted since, or
        # issued before a password change, is refused.
        row = await info.context.viewer()
        return None if row is None else User.from_row(row)
