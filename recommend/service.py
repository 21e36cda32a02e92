"""The recommendation service: one worker-thread trip per request, next to the database.

In that trip: the reader's state (one statement), the chain (numpy + onnxruntime), and the
rows of the picked books (one statement), so that a request never bounces between the
event loop, the database and the model."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

import recommend.chain as chain
from db import catalog, readers
from db.catalog import BookRow, CategoryRow
from db.errors import NotFound
from db.fastread import FastReads
from db.popularity import PopularityCache
from db.session import read_fast
from inference import Recommender
from inference.live import LiveModel
from recommend.types import Pick, ReaderState, Request


@dataclass(frozen=True)
class Recommended:
    """A pick with its book (and the book that explains it) as read in the same trip, and
    the book's categories when the caller asked for them."""

    pick: Pick
    book: BookRow
    because: BookRow | None
    categories: list[CategoryRow] | None = None


class RecommendationService:
    def __init__(
        self, engine: Engine, popularity: PopularityCache, live_model: LiveModel | None
    ) -> None:
        self._engine = engine
        self._popularity = popularity
        self._live_model = live_model

    def model(self) -> Recommender | None:
        """The model serving now. A request takes it once, so that one response never mixes
        two versions even if a new one goes live meanwhile."""
        return self._live_model.current if self._live_model is not None else None

    async def for_reader(
        self,
        user_id: int,
        request: Request,
        model: Recommender | None,
        with_categories: bool = False,
    ) -> list[Recommended] | None:
        """The chain's picks for a reader, best first; None if the reader does not exist.
        `with_categories`: also read the picked books' categories, in the same trip."""
        return await read_fast(
            self._engine, self._for_reader, user_id, request, model, with_categories
        )

    async def similar(
        self,
        book_id: int,
        request: Request,
        model: Recommender | None,
        with_categories: bool = False,
    ) -> list[Recommended]:
        """Books most like `book_id`; NotFound if there is no such book."""
        return await read_fast(
            self._engine, self._similar, book_id, request, model, with_categories
        )

    def _for_reader(
        self,
        db: FastReads,
        user_id: int,
        request: Request,
        model: Recommender | None,
        with_categories: bool,
    ) -> list[Recommended] | None:
        state = readers.reader_state(db, user_id)
        if state is None:
            return None
        _check_category(db, request)
        reader = ReaderState(user_id, *state)
        picks = chain.recommend(reader, request, model, self._popularity.get())
        return _with_books(db, picks, with_categories)

    def _similar(
        self,
        db: FastReads,
        book_id: int,
        request: Request,
        model: Recommender | None,
        with_categories: bool,
    ) -> list[Recommended]:
        if not catalog.book_rows_by_ids(db, [book_id]):
            raise NotFound(f"No book with id {book_id}.")
        _check_category(db, request)
        picks = chain.similar(book_id, request, model, self._popularity.get())
        return _with_books(db, picks, with_categories)


def _check_category(db: FastReads, request: Request) -> None:
    if request.category_id is not None and not catalog.category_known(db, request.category_id):
        raise NotFound(f"No category with id {request.category_id}.")


def _with_books(db: FastReads, picks: list[Pick], with_categories: bool) -> list[Recommended]:
    ids = [p.book_id for p in picks] + [p.because_id for p in picks if p.because_id]
    books = catalog.book_rows_by_ids(db, ids)
    categories = (
        catalog.category_rows_of_books(db, [p.book_id for p in picks]) if with_categories else {}
    )
    # Picks may name books deleted since the snapshot or the model was made: drop those.
    return [
        Recommended(
            p,
            books[p.book_id],
            books.get(p.because_id) if p.because_id else None,
            categories.get(p.book_id),
        )
        for p in picks
        if p.book_id in books
    ]
