"""Staff-only operations: the catalog (add, edit, hide books; categories) and the models
(versions with their held-out metrics and loss curves; rollback). Each resolver calls
`require_staff` first: FORBIDDEN for readers, UNAUTHENTICATED for anonymous callers.
tests/security/test_staff_role.py calls every one of them as each kind of caller."""

from __future__ import annotations

from datetime import datetime

import anyio.to_thread
import strawberry
from strawberry.types import Info

from db import catalog_edits
from db.catalog_edits import BookFields
from inference import versions
from inference.versions import NothingToRollBack, VersionInfo
from schema.context import Context
from schema.errors import BadUserInput, NotFoundError, parse_id
from schema.loaders import forget
from schema.types import Book, Category

MAX_CATEGORY_IDS = catalog_edits.MAX_CATEGORIES_PER_BOOK


@strawberry.input(description="A book as staff enter it; empty optional texts mean none.")
class BookInput:
    title: str
    authors: str
    year: int | None = None
    isbn: str | None = strawberry.field(
        default=None, description="ISBN-10 or ISBN-13 (check digit verified; hyphens ignored)."
    )
    description: str | None = None
    cover_url: str | None = strawberry.field(default=None, description="An http(s) address.")
    category_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="The book's categories; left out (null) on an edit: kept as they are.",
    )


@strawberry.type(description="A held-out figure of a model beside the popularity baseline's.")
class ModelMetric:
    name: str
    model: float | None
    popularity: float | None = strawberry.field(
        description="The most-rated baseline on the same held-out split."
    )


@strawberry.type
class LossPoint:
    epoch: int
    loss: float = strawberry.field(description="Mean training loss over this epoch.")
    validation_loss: float | None = strawberry.field(
        description="Validation RMSE (stars) on the slice held back for early stopping; null "
        "when the curve comes from a fit without one."
    )


@strawberry.type(description="A version in the model store.")
class ModelVersion:
    version: str
    is_current: bool
    created_at: datetime | None
    arch: str | None
    metrics: list[ModelMetric]
    loss_curve: list[LossPoint] = strawberry.field(
        description="Per epoch, of the fit that chose the epoch count (early stopping) when "
        "there was one, else of the final fit; empty for artifacts older than the curve."
    )

    @classmethod
    def from_info(cls, info: VersionInfo) -> ModelVersion:
        return cls(
            version=info.version,
            is_current=info.is_current,
            created_at=info.created_at,
            arch=info.arch,
            metrics=[
                ModelMetric(name=m.name, model=m.model, popularity=m.popularity)
                for m in info.metrics
            ],
            loss_curve=[
                LossPoint(epoch=p.epoch, loss=p.loss, validation_loss=p.validation_loss)
                for p in info.loss_curve
            ],
        )


def _fields(book: BookInput) -> BookFields:
    categories = None
    if book.category_ids is not None:
        if len(book.category_ids) > MAX_CATEGORY_IDS:
            raise BadUserInput(f"A book has at most {MAX_CATEGORY_IDS} categories.")
        categories = [parse_id(c, "category id") for c in book.category_ids]
    return BookFields(
        title=book.title,
        authors=book.authors,
        year=book.year,
        isbn=book.isbn,
        description=book.description,
        cover_url=book.cover_url,
        category_ids=categories,
    )


def _forget_book(ctx: Context, book_id: int) -> None:
    forget(ctx.loaders.book, book_id)
    forget(ctx.loaders.book_categories, book_id)


def _catalog_changed(ctx: Context) -> None:
    """This process's popularity snapshot (the fallback steps' books and categories) is
    refreshed once the edit is committed; other processes refresh theirs within
    BOOKREC_POPULARITY_TTL_SECONDS. (Hiding needs neither: it is read per request.)"""
    ctx.after_commit.append(ctx.services.popularity.refresh_soon)


async def resolve_add_book(info: Info[Context, None], book: BookInput) -> Book:
    ctx = info.context
    await ctx.require_staff()
    row = await ctx.db(catalog_edits.add_book, _fields(book))
    _catalog_changed(ctx)
    return Book.from_row(row)


async def resolve_update_book(
    info: Info[Context, None], id: strawberry.ID, book: BookInput
) -> Book:
    ctx = info.context
    book_id = parse_id(id, "book id")
    await ctx.require_staff()
    row = await ctx.db(catalog_edits.update_book, book_id, _fields(book))
    _forget_book(ctx, book_id)
    _catalog_changed(ctx)
    return Book.from_row(row)


async def resolve_set_book_hidden(
    info: Info[Context, None], id: strawberry.ID, hidden: bool
) -> Book:
    ctx = info.context
    book_id = parse_id(id, "book id")
    await ctx.require_staff()
    row = await ctx.db(catalog_edits.set_hidden, book_id, hidden)
    _forget_book(ctx, book_id)
    return Book.from_row(row)


async def resolve_set_book_categories(
    info: Info[Context, None], id: strawberry.ID, category_ids: list[strawberry.ID]
) -> Book:
    ctx = info.context
    book_id = parse_id(id, "book id")
    if len(category_ids) > MAX_CATEGORY_IDS:
        raise BadUserInput(f"A book has at most {MAX_CATEGORY_IDS} categories.")
    categories = [parse_id(c, "category id") for c in category_ids]
    await ctx.require_staff()
    row = await ctx.db(catalog_edits.set_book_categories, book_id, categories)
    _forget_book(ctx, book_id)
    _catalog_changed(ctx)
    return Book.from_row(row)


async def resolve_add_category(info: Info[Context, None], name: str) -> Category:
    ctx = info.context
    await ctx.require_staff()
    return Category.from_row(await ctx.db(catalog_edits.add_category, name))


async def resolve_model_versions(info: Info[Context, None]) -> list[ModelVersion]:
    ctx = info.context
    await ctx.require_staff()
    live = ctx.services.live_model
    if live is None:
        return []
    found = await anyio.to_thread.run_sync(versions.list_versions, live.store)
    return [ModelVersion.from_info(v) for v in found]


async def resolve_rollback_model(info: Info[Context, None]) -> ModelVersion:
    ctx = info.context
    # Checked apart from the mutation's write transaction: loading the candidate takes
    # seconds, and must not hold SQLite's write lock meanwhile.
    await ctx.require_staff(apart=True)
    live = ctx.services.live_model
    if live is None:
        raise NotFoundError("This server has no model store to roll back.")
    try:
        found = await anyio.to_thread.run_sync(versions.rollback, live.store)
    except NothingToRollBack as exc:
        raise NotFoundError(str(exc)) from None
    # This process serves it at once; the others follow CURRENT as they always do.
    await anyio.to_thread.run_sync(live.refresh)
    return ModelVersion.from_info(found)
