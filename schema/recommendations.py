"""GraphQL side of recommendations, similar books and model information."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Any

import anyio.to_thread
import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from db import catalog, readers
from schema import recommending
from schema.context import Context
from schema.errors import Unauthenticated, parse_id
from schema.pagination import check_first
from schema.types import Book


@strawberry.enum(description="Which step of the recommendation chain produced a pick.")
class RecommendationSource(Enum):
    MODEL = "MODEL"
    FOLD_IN = "FOLD_IN"
    CATEGORY_POPULAR = "CATEGORY_POPULAR"
    POPULAR = "POPULAR"


@strawberry.type
class Recommendation:
    book_id: strawberry.Private[int]
    because_id: strawberry.Private[int | None]
    score: float
    predicted_stars: float | None
    source: RecommendationSource

    @strawberry.field
    async def book(self, info: Info[Context, None]) -> Book:
        row = await info.context.loaders.book.load(self.book_id)
        assert row is not None
        return Book.from_row(row)

    @strawberry.field(description="The reader's highly rated book most similar to this one.")
    async def because(self, info: Info[Context, None]) -> Book | None:
        if self.because_id is None:
            return None
        row = await info.context.loaders.book.load(self.because_id)
        return None if row is None else Book.from_row(row)

    @classmethod
    def from_pick(cls, pick: recommending.Pick) -> Recommendation:
        return cls(
            book_id=pick.book_id,
            because_id=pick.because_id,
            score=round(pick.score, 6),
            predicted_stars=pick.predicted_stars,
            source=RecommendationSource(pick.source.value),
        )


@strawberry.type
class ModelInfo:
    version: str
    created_at: datetime | None
    architecture: str
    readers_known: int
    books_known: int
    holdout_metrics: JSON = strawberry.field(description="Held-out evaluation of this model.")
    baseline_metrics: JSON = strawberry.field(description="Popularity on the same split.")


async def _present(ctx: Context, picks: list[recommending.Pick]) -> list[Recommendation]:
    # Picks may name books deleted since the snapshot or the model was made: drop those.
    rows = await ctx.loaders.book.load_many([p.book_id for p in picks])
    return [Recommendation.from_pick(p) for p, row in zip(picks, rows, strict=True) if row]


async def resolve_recommendations(info: Info[Context, None], first: int) -> list[Recommendation]:
    ctx = info.context
    k = check_first(first)
    viewer = ctx.require_viewer()
    state = await ctx.db(readers.reader_state, viewer)
    if state is None:
        raise Unauthenticated("This account no longer exists; sign in again.")
    reader = recommending.Reader(viewer, state.history, state.disliked, state.category_ids)
    model = ctx.model()

    def plan() -> list[recommending.Pick]:
        return recommending.recommend(reader, k, model, ctx.services.popularity.get())

    return await _present(ctx, await anyio.to_thread.run_sync(plan))


async def resolve_similar_books(
    info: Info[Context, None], book_id: strawberry.ID, first: int
) -> list[Recommendation]:
    ctx = info.context
    k = check_first(first)
    book = parse_id(book_id, "book id")
    await ctx.db(catalog.get_book, book)  # NOT_FOUND for an unknown book
    model = ctx.model()

    def plan() -> list[recommending.Pick]:
        return recommending.similar(book, k, model, ctx.services.popularity.get())

    return await _present(ctx, await anyio.to_thread.run_sync(plan))


def resolve_model_info(info: Info[Context, None]) -> ModelInfo | None:
    model = info.context.model()
    if model is None:
        return None
    manifest: dict[str, Any] = model.manifest
    created = manifest.get("created_at")
    return ModelInfo(
        version=model.version,
        created_at=datetime.fromisoformat(created).astimezone(UTC) if created else None,
        architecture=str(manifest.get("arch", "unknown")),
        readers_known=model.n_users,
        books_known=model.n_books,
        holdout_metrics=manifest.get("metrics", {}),
        baseline_metrics=manifest.get("baseline_metrics", {}),
    )
