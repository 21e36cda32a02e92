"""GraphQL side of recommendations, similar books and model information."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info
from strawberry.types.nodes import SelectedField, Selection

from db import catalog, readers
from db.catalog import BookRow
from db.errors import NotFound
from db.fastread import FastReads
from db.popularity import PopularityCache
from inference import Recommender
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
    # The books were fetched with the plan, in the same trip. `book` is a plain field (the
    # executor resolves those far more cheaply than resolvers); `because` is built only
    # when a client asks for it.
    book: Book
    score: float
    predicted_stars: float | None
    source: RecommendationSource
    because_row: strawberry.Private[BookRow | None]

    @strawberry.field(description="The reader's highly rated book most similar to this one.")
    def because(self) -> Book | None:
        return None if self.because_row is None else Book.from_row(self.because_row)

    @classmethod
    def from_pick(cls, pick: recommending.Pick, books: dict[int, BookRow]) -> Recommendation:
        return cls(
            book=Book.from_row(books[pick.book_id]),
            score=round(pick.score, 6),
            predicted_stars=pick.predicted_stars,
            source=_SOURCES[pick.source],
            because_row=books.get(pick.because_id) if pick.because_id else None,
        )


_SOURCES = {s: RecommendationSource(s.value) for s in recommending.Source}


@strawberry.type
class ModelInfo:
    version: str
    created_at: datetime | None
    architecture: str
    readers_known: int
    books_known: int
    holdout_metrics: JSON = strawberry.field(description="Held-out evaluation of this model.")
    baseline_metrics: JSON = strawberry.field(description="Popularity on the same split.")


def _with_books(
    db: FastReads, picks: list[recommending.Pick]
) -> tuple[list[recommending.Pick], dict[int, BookRow]]:
    ids = [p.book_id for p in picks] + [p.because_id for p in picks if p.because_id]
    return picks, catalog.book_rows_by_ids(db, ids)


def _plan_for_reader(
    db: FastReads,
    viewer: int,
    k: int,
    model: Recommender | None,
    popularity: PopularityCache,
    explain: bool,
) -> tuple[list[recommending.Pick], dict[int, BookRow]] | None:
    """Reader state, the chain and the books it picked: one trip to a worker thread."""
    state = readers.reader_state(db, viewer)
    if state is None:
        return None
    reader = recommending.Reader(viewer, state.history, state.disliked, state.category_ids)
    picks = recommending.recommend(reader, k, model, popularity.get(), explain)
    return _with_books(db, picks)


def _plan_similar(
    db: FastReads, book: int, k: int, model: Recommender | None, popularity: PopularityCache
) -> tuple[list[recommending.Pick], dict[int, BookRow]]:
    if not catalog.book_rows_by_ids(db, [book]):
        raise NotFound(f"No book with id {book}.")
    return _with_books(db, recommending.similar(book, k, model, popularity.get()))


def asks_for(info: Info[Context, None], name: str) -> bool:
    """Whether the client selected a field called `name` anywhere under this one, through
    fragments too. Saying yes when unsure is safe; it only costs work."""
    stack: list[Selection] = list(info.selected_fields)
    while stack:
        node = stack.pop()
        if isinstance(node, SelectedField) and node.name == name:
            return True
        stack.extend(node.selections)
    return False


def _present(picks: list[recommending.Pick], books: dict[int, BookRow]) -> list[Recommendation]:
    # Picks may name books deleted since the snapshot or the model was made: drop those.
    return [Recommendation.from_pick(p, books) for p in picks if p.book_id in books]


async def resolve_recommendations(info: Info[Context, None], first: int) -> list[Recommendation]:
    ctx = info.context
    k = check_first(first)
    viewer = ctx.require_viewer()
    explain = asks_for(info, "because")
    planned = await ctx.db_fast(
        _plan_for_reader, viewer, k, ctx.model(), ctx.services.popularity, explain
    )
    if planned is None:
        raise Unauthenticated("This account no longer exists; sign in again.")
    return _present(*planned)


async def resolve_similar_books(
    info: Info[Context, None], book_id: strawberry.ID, first: int
) -> list[Recommendation]:
    ctx = info.context
    k = check_first(first)
    book = parse_id(book_id, "book id")
    planned = await ctx.db_fast(_plan_similar, book, k, ctx.model(), ctx.services.popularity)
    return _present(*planned)


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
