"""The recommendation service: one trip per request, next to the database.

In that trip: the reader's state (one statement), the chain (numpy + onnxruntime), and the
rows of the picked books (one statement), so that a request never bounces between the
event loop, the database and the model. On SQLite the trip runs on the event loop
(`db.session.read_fast`), except one that must fold a reader in, which goes to a thread."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass

import anyio.to_thread
from sqlalchemy.engine import Engine

import recommend.chain as chain
from db import catalog, experiments, readers
from db import lists as db_lists
from db.catalog import BookRow, CategoryRow
from db.catalog_cache import CatalogCache, CatalogTrip
from db.errors import InvalidInput, NotFound
from db.fastread import FastReads
from db.popularity import PopularityCache, PopularityIndex
from db.session import Offload, read_fast
from inference import Recommender
from inference.live import LiveModel
from inference.vector_cache import FoldInDeferred, fold_ins_deferred
from recommend.experiments import CONTROL, Assignment
from recommend.lists import ListRecorder, ServedList, list_id_age, new_list_id
from recommend.types import Pick, ReaderState, Request


@dataclass(frozen=True)
class Recommended:
    """A pick with its book (and the book that explains it) as read in the same trip, and
    the book's categories when the caller asked for them."""

    pick: Pick
    book: BookRow
    because: BookRow | None
    categories: list[CategoryRow] | None = None


@dataclass(frozen=True)
class Served:
    """One page of a list: its id (stable across the list's pages) and its picks."""

    list_id: str
    items: list[Recommended]


class _NotYetVisible(Exception):
    """A list id made moments ago, not stored yet: another server may still be writing it."""


# How many times a continuation waits for a list that another server may still be writing.
VISIBILITY_WAITS = 3
# How late, beyond two flush intervals, another server's writer may be on a busy machine
# (its thread shares the cores with the requests, and SQLite serialises writers).
LATE_WRITE_SECONDS = 5.0


class RecommendationService:
    def __init__(
        self,
        engine: Engine,
        popularity: PopularityCache,
        live_model: LiveModel | None,
        recorder: ListRecorder | None = None,
    ) -> None:
        self._engine = engine
        self._popularity = popularity
        self._live_model = live_model
        self.recorder = recorder or ListRecorder(engine)
        self._shown = db_lists.ShownBooks()  # continued lists' stored positions, read once
        # Book rows, categories, the hidden set: kept while the catalog's generation holds.
        self.catalog = CatalogCache()
        self.experiment: Assignment | None = None  # the running experiment, as last polled

    def model(self) -> Recommender | None:
        """The model serving now. A request takes it once, so that one response never mixes
        two versions even if a new one goes live meanwhile."""
        return self._live_model.current if self._live_model is not None else None

    def model_for(self, user_id: int | None) -> tuple[Recommender | None, str]:
        """The model serving this reader and their group: an experiment's variant readers
        get its version once this process has it loaded; everyone else (anonymous readers
        included) gets the current model, as control."""
        current = self.model()
        experiment, live = self.experiment, self._live_model
        if experiment is None or live is None or experiment.group(user_id) == CONTROL:
            return current, CONTROL
        variant = live.variant
        if variant is None or variant.version != experiment.version:
            return current, CONTROL  # not loaded (yet, or refused): what they get is control
        return variant, experiment.group(user_id)

    def follow_experiment(self) -> None:
        """Blocking: read the running experiment and load its version (each poll, beside
        CURRENT), so that every server process serves the same groups."""
        row = experiments.running_experiment_now(self._engine)
        assignment = (
            None
            if row is None or row.id is None
            else Assignment(row.id, row.version, float(row.share), row.salt)
        )
        if self._live_model is not None:
            self._live_model.follow_variant(assignment.version if assignment else None)
        self.experiment = assignment

    async def for_reader(
        self,
        user_id: int,
        request: Request,
        model: Recommender | None,
        with_categories: bool = False,
        token_epoch: int | None = None,
        variant: str = CONTROL,
        with_like_counts: bool = False,
    ) -> Served | None:
        """The chain's picks for a reader, best first; None if the reader does not exist,
        or if `token_epoch` is given and is not the account's now (checked in the same
        statement that reads the reader's state: the session check costs nothing more).
        `with_categories`: also read the picked books' categories, in the same trip;
        `with_like_counts`: the books' like counts as of this trip (see db.catalog_cache).
        With `request.after`, the next page of that list (NotFound if it is not one of
        this reader's lists)."""
        for _ in range(VISIBILITY_WAITS):
            try:
                return await read_fast(
                    self._engine,
                    self._for_reader,
                    user_id,
                    request,
                    model,
                    with_categories,
                    token_epoch,
                    variant,
                    with_like_counts,
                )
            except _NotYetVisible:
                await asyncio.sleep(self.recorder.flush_seconds)
        raise NotFound(f"No list with id {request.after} (or not yours).")

    async def write_if_buffered(self, list_id: str) -> None:
        """Before an open of `list_id` is checked: if this process still holds the list in
        its write buffer, the buffer is written now (the open refers to the stored list)."""
        header, pending = self.recorder.pending(list_id)
        if header is not None or pending:
            await anyio.to_thread.run_sync(self.recorder.flush)

    def may_still_appear(self, list_id: str) -> bool:
        """Whether an unknown list id was made so recently that another server process may
        not have written it yet (it is worth waiting `recorder.flush_seconds`)."""
        age = list_id_age(list_id)
        return age is not None and -1 < age < 2 * self.recorder.flush_seconds + LATE_WRITE_SECONDS

    async def similar(
        self,
        book_id: int,
        request: Request,
        model: Recommender | None,
        user_id: int | None = None,
        with_categories: bool = False,
        token_epoch: int | None = None,
        variant: str = CONTROL,
        with_like_counts: bool = False,
    ) -> Served | None:
        """Books most like `book_id`; NotFound if there is no such book. With `user_id` and
        `token_epoch`: None if that account does not exist or is at another epoch now (read
        in the same trip)."""
        return await read_fast(
            self._engine,
            self._similar,
            book_id,
            request,
            model,
            user_id,
            with_categories,
            token_epoch,
            variant,
            with_like_counts,
        )

    def _for_reader(
        self,
        db: FastReads,
        user_id: int,
        request: Request,
        model: Recommender | None,
        with_categories: bool,
        token_epoch: int | None,
        variant: str,
        with_like_counts: bool,
    ) -> Served | None:
        state = readers.reader_state(db, user_id, token_epoch)
        if state is None:
            return None
        served, request = self._list_to_serve(db, user_id, request, model, variant)
        books = self.catalog.trip(db)
        request = dataclasses.replace(request, hidden=books.hidden())
        _check_category(db, request)
        reader = ReaderState(user_id, *state)
        popularity = self._popularity_for(db)
        try:
            with fold_ins_deferred(db.inline):
                picks = chain.recommend(reader, request, model, popularity)
        except FoldInDeferred:
            raise Offload from None  # tens of milliseconds of numpy: not on the event loop
        found = _with_books(books, picks, with_categories, with_like_counts)
        self.recorder.record(served, [r.pick for r in found], len(served.shown))
        return Served(served.id, found)

    def _popularity_for(self, db: FastReads) -> PopularityIndex:
        """The popularity snapshot; its first load (a scan of the ratings) is not done on
        the event loop."""
        if db.inline and not self._popularity.loaded:
            raise Offload
        return self._popularity.get()

    def _list_to_serve(
        self,
        db: FastReads,
        user_id: int,
        request: Request,
        model: Recommender | None,
        variant: str,
    ) -> tuple[ServedList, Request]:
        """A new list for this request, or the list it continues with what it has shown
        (which the request then excludes) and what it was asked for."""
        version = model.version if model is not None else None
        if request.after is None:
            served = ServedList(
                new_list_id(),
                user_id,
                "recommendations",
                category_id=request.category_id,
                diversity=request.diversity,
                model_version=version,
                variant=variant,
            )
            return served, request
        list_id = request.after
        header, pending = self.recorder.pending(list_id)
        header = header or db_lists.list_header(db, list_id)
        if header is None:
            if self.may_still_appear(list_id):
                raise _NotYetVisible
            raise NotFound(f"No list with id {list_id} (or not yours).")
        if header["user_id"] != user_id or header["kind"] != "recommendations":
            raise NotFound(f"No list with id {list_id} (or not yours).")
        for name in ("category_id", "diversity"):
            asked = getattr(request, name)
            if asked not in (None, 0.0, header[name]):
                raise InvalidInput(f"A continued list keeps its {name}; leave it out with 'after'.")
        shown, beyond = self._shown.read(db, list_id)  # stored positions, in order
        if pending or beyond:  # past a gap, or still buffered (maybe being written: in both)
            positions = dict(enumerate(shown))
            positions.update(beyond)
            positions.update(pending)
            shown = [positions[p] for p in sorted(positions)]
        served = ServedList(
            list_id,
            user_id,
            "recommendations",
            category_id=header["category_id"],
            diversity=header["diversity"],
            model_version=version,
            variant=variant,
            shown=shown,
        )
        request = dataclasses.replace(
            request,
            category_id=header["category_id"],
            diversity=header["diversity"],
            exclude=request.exclude | frozenset(shown),
        )
        return served, request

    def _similar(
        self,
        db: FastReads,
        book_id: int,
        request: Request,
        model: Recommender | None,
        user_id: int | None,
        with_categories: bool,
        token_epoch: int | None,
        variant: str,
        with_like_counts: bool,
    ) -> Served | None:
        if (
            user_id is not None
            and token_epoch is not None
            and readers.token_epoch_of(db, user_id) != token_epoch
        ):
            return None
        books = self.catalog.trip(db)
        seed = books.books([book_id]).get(book_id)
        if seed is None or seed.hidden:  # a hidden book is not there for anyone to browse
            raise NotFound(f"No book with id {book_id}.")
        request = dataclasses.replace(request, hidden=books.hidden())
        _check_category(db, request)
        picks = chain.similar(book_id, request, model, self._popularity_for(db))
        found = _with_books(books, picks, with_categories, with_like_counts)
        served = ServedList(
            new_list_id(),
            user_id,
            "similar",
            anchor_book_id=book_id,
            category_id=request.category_id,
            model_version=model.version if model is not None else None,
            variant=variant,
        )
        self.recorder.record(served, [r.pick for r in found], 0)
        return Served(served.id, found)


def _check_category(db: FastReads, request: Request) -> None:
    if request.category_id is not None and not catalog.category_known(db, request.category_id):
        raise NotFound(f"No category with id {request.category_id}.")


def _with_books(
    catalog_trip: CatalogTrip, picks: list[Pick], with_categories: bool, with_like_counts: bool
) -> list[Recommended]:
    ids = [p.book_id for p in picks] + [p.because_id for p in picks if p.because_id]
    books = catalog_trip.books(ids, with_like_counts)
    categories = catalog_trip.categories([p.book_id for p in picks]) if with_categories else {}
    # Picks may name books deleted since the snapshot or the model was made: drop those.
    # (Hidden ones the chain never picks: the hidden set is of this trip's generation.)
    return [
        Recommended(
            p,
            books[p.book_id],
            books.get(p.because_id) if p.because_id else None,
            categories.get(p.book_id),
        )
        for p in picks
        if p.book_id in books and not books[p.book_id].hidden
    ]
