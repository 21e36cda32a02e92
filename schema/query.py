"""Read operations."""

from __future__ import annotations

from functools import partial
from typing import Annotated

import strawberry
from strawberry import relay
from strawberry.types import Info

from db import catalog, readers
from db.catalog import BookFilter
from schema.context import Context
from schema.errors import BadUserInput, Unauthenticated, parse_id
from schema.pagination import book_cursor, check_first, parse_book_cursor
from schema.recommendations import (
    ModelInfo,
    Recommendation,
    resolve_model_info,
    resolve_recommendations,
    resolve_similar_books,
)
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
    ) -> BookConnection:
        ctx = info.context
        limit = check_first(first)
        after_id = parse_book_cursor(after) if after else None
        if search is not None and len(search) > MAX_SEARCH:
            raise BadUserInput(f"'search' is limited to {MAX_SEARCH} characters.")
        flt = BookFilter(
            category_id=parse_id(category_id, "category id") if category_id is not None else None,
            search=search.strip() or None if search else None,
        )
        rows = await ctx.db(catalog.book_page, flt, after_id, limit)
        books = [Book.from_row(r) for r in rows]
        for book, row in zip(books, rows, strict=True):  # later `book(id)` lookups are free
            ctx.loaders.book.prime(int(book.id), row)
        edges = [
            relay.Edge(cursor=book_cursor(int(b.id)), node=b)  # type: ignore[type-var]
            for b in books[:limit]
        ]
        return BookConnection(
            edges=edges,
            page_info=page_info([e.cursor for e in edges], has_next_page=len(rows) > limit),
            total_count_=partial(ctx.db, catalog.count_books, flt),
        )

    @strawberry.field
    async def book(self, info: Info[Context, None], id: strawberry.ID) -> Book | None:
        row = await info.context.loaders.book.load(parse_id(id, "book id"))
        return None if row is None else Book.from_row(row)

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

    @strawberry.field(description="Retraining runs of `bookrec worker`, newest first (staff).")
    async def training_runs(self, info: Info[Context, None], first: int = 20) -> list[TrainingRun]:
        return await resolve_training_runs(info, first)

    @strawberry.field(description="The signed-in reader; null when anonymous.")
    async def me(self, info: Info[Context, None]) -> User | None:
        viewer = info.context.viewer_id()
        if viewer is None:
            return None
        row = await info.context.db(readers.find_user, viewer)
        if row is None:  # a valid token for an account deleted since
            raise Unauthenticated("This account no longer exists; sign in again.")
        return User.from_row(row)
