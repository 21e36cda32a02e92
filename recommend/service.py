"""The recommendation service: one worker-thread trip per request, next to the database.

In that trip: the reader's state (one statement), the chain (numpy + onnxruntime), and the
rows of the picked books (one statement), so that a request never bounces between the
event loop, the database and the model."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

import recommend.chain as chain
from db import catalog, readers
from db.catalog import BookRow
from db.errors import NotFound
from db.fastread import FastReads
from db.popularity import PopularityCache
from db.session import read_fast
from inference import Recommender
from inference.live import LiveModel
from recommend.types import Pick, ReaderState, Request


@dataclass(frozen=True)
class Recommended:
    """A pick with its book (and the book that explains it) as read in the same trip."""

    pick: Pick
    book: BookRow
    because: BookRow | None


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
        self, user_id: int, request: Request, model: Recommender | None
    ) -> list[Recommended] | None:
        """The chain's picks for a reader, best first; None if the reader does not exist."""
        return await read_fast(self._engine, self._for_reader, user_id, request, model)

    async def similar(
        self, book_id: int, request: Request, model: Recommender | None
    ) -> list[Recommended]:
        """Books most like `book_id`; NotFound if there is no such book."""
        return await read_fast(self._engine, self._similar, book_id, request, model)

    def _for_reader(
        self, db: FastReads, user_id: int, request: Request, model: Recommender | None
    ) -> list[Recommended] | None:
        state = readers.reader_state(db, user_id)
        if state is None:
            return None
        _check_category(db, request)
        reader = ReaderState(user_id, *state)
        return _with_books(db, chain.recommend(reader, request, model, self._popularity.get()))

    def _similar(
        self, db: FastReads, book_id: int, request: Request, model: Recommender | None
    ) -> list[Recommended]:
        if not catalog.book_rows_by_ids(db, [book_id]):
            raise NotFound(f"No book with id {book_id}.")
        _check_category(db, request)
        return _with_books(db, chain.similar(book_id, request, model, self._popularity.get()))


def _check_category(db: FastReads, request: Request) -> None:
    if request.category_id is not None and not catalog.category_known(db, request.category_id):
        raise NotFound(f"No category with id {request.category_id}.")


def _with_books(db: FastReads, picks: list[Pick]) -> list[Recommended]:
    ids = [p.book_id for p in picks] + [p.because_id for p in picks if p.because_id]
    books = catalog.book_rows_by_ids(db, ids)
    # Picks may name books deleted since the snapshot or the model was made: drop those.
    return [
        Recommended(p, books[p.book_id], books.get(p.because_id) if p.because_id else None)
        for p in picks
        if p.book_id in books
    ]
