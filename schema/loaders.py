"""Dataloaders, built per request: each batches one kind of lookup into one statement."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from db import catalog, ratings, readers
from db.catalog import RatingStats
from db.models import Book, Category, Rating

K = TypeVar("K")
V = TypeVar("V")
RunDb = Callable[..., Awaitable[Any]]


def _loader(
    run: RunDb, fetch: Callable[..., dict[K, Any]], default: Any = None
) -> DataLoader[K, V]:
    async def load(keys: Sequence[K]) -> list[V]:
        found = await run(fetch, list(keys))
        return [found.get(k, default) for k in keys]

    return DataLoader(load_fn=load)


def _viewer_loader(
    run: RunDb, fetch: Callable[..., dict[int, V]]
) -> DataLoader[tuple[int, int], V | None]:
    """Keys are (viewer id, book id); a request has one viewer, so one statement."""

    async def load(keys: Sequence[tuple[int, int]]) -> list[V | None]:
        by_viewer: dict[int, list[int]] = {}
        for viewer, book in keys:
            by_viewer.setdefault(viewer, []).append(book)
        found: dict[tuple[int, int], V] = {}
        for viewer, books in by_viewer.items():
            for book, value in (await run(fetch, viewer, books)).items():
                found[(viewer, book)] = value
        return [found.get(k) for k in keys]

    return DataLoader(load_fn=load)


class Loaders:
    def __init__(self, run: RunDb) -> None:
        self.book: DataLoader[int, Book | None] = _loader(run, catalog.books_by_ids)
        self.book_categories: DataLoader[int, list[Category]] = _loader(
            run, catalog.categories_of_books, default=[]
        )
        self.rating_stats: DataLoader[int, RatingStats] = _loader(
            run, catalog.rating_stats, default=RatingStats(None, 0)
        )
        self.category_book_count: DataLoader[int, int] = _loader(run, catalog.book_counts, 0)
        self.user_categories: DataLoader[int, list[Category]] = _loader(
            run, readers.categories_of_users, default=[]
        )
        self.viewer_rating: DataLoader[tuple[int, int], Rating | None] = _viewer_loader(
            run, ratings.ratings_of_user_for_books
        )
        self.viewer_feedback: DataLoader[tuple[int, int], str | None] = _viewer_loader(
            run, ratings.feedback_of_user_for_books
        )


def forget(loader: DataLoader[K, V], key: K) -> None:
    """Drop a cached value after a write; a key never loaded is fine."""
    if loader.cache_map.get(key) is not None:
        loader.clear(key)
