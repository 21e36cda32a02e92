"""The catalog as recommendation lists show it, kept in the process while it is unchanged.

Every recommendations request shows some twenty books (ten picks and the books that explain
them) with their categories, and skips the hidden ones. Read from the database each time,
those were two statements of every request's trip and a tenth of its CPU; yet a catalog
changes rarely (staff edit it, an import adds to it) while lists are served all day.

`catalog_state.generation` (migration 0012) counts the catalog's changes: triggers in the
database add one at every insert, delete or update of a book (but for `like_count` alone:
likes change it all day and it is read fresh when asked for, see `CatalogTrip.books`), of a
book's category links and of a category, in the writing transaction itself, whatever code
or tool wrote it. A trip reads the generation first (one row by its key), and this process's
rows are used while it is the generation they were read under; at a new one they are
dropped and read again as requests need them. So every server process, on every host, sees
an edit on its next request, as it did when every trip read the rows.

Under PostgreSQL's READ COMMITTED each statement has its own snapshot, so a row read after
the generation may be newer than it, never older: kept under that generation it is at worst
fresher than the trip that read it, and the next trip that reads the newer generation drops
it. A trip that reads a generation older than this process's (a slower thread of the same
process) reads everything itself and keeps nothing."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from db import catalog
from db.catalog import BookRow, CategoryRow
from db.fastread import FastReads

T = TypeVar("T")


@dataclass
class _Kept:
    generation: int | None  # None: the trip could not read one (kept nowhere)
    books: dict[int, BookRow] = field(default_factory=dict)
    categories: dict[int, list[CategoryRow]] = field(default_factory=dict)
    hidden: frozenset[int] | None = None


class CatalogCache:
    """Book rows, their categories and the hidden set, per catalog generation; at most
    `max_books` books' rows (and as many books' categories) kept, the first kept dropped
    first once full (0: nothing is kept, every trip reads what it shows)."""

    def __init__(self, max_books: int = 20_000) -> None:
        self._kept = _Kept(None)
        self._max_books = max_books
        self._lock = threading.Lock()  # filling and dropping; lookups take no lock

    def trip(self, db: FastReads) -> CatalogTrip:
        """What this trip reads of the catalog: first its generation (a statement)."""
        generation = catalog.catalog_generation(db)
        kept = self._kept
        if generation is None or kept.generation is None or generation != kept.generation:
            if generation is not None and (kept.generation is None or generation > kept.generation):
                with self._lock:
                    if self._kept is kept:
                        self._kept = _Kept(generation)
                    kept = self._kept
                if kept.generation != generation:  # another thread moved it on meanwhile
                    kept = _Kept(None)
            else:
                kept = _Kept(None)  # an older generation, or none: read it all, keep nothing
        return CatalogTrip(db, self, kept)

    def _fill(self, kept: _Kept, rows: dict[int, Any], table: dict[int, Any]) -> None:
        """Keep `rows` in `table` (one of `kept`'s) if `kept` is still this process's."""
        if kept.generation is None:
            return
        with self._lock:
            if self._kept is not kept:
                return  # a newer generation is kept now: these rows belong to no one
            if len(rows) > self._max_books:
                rows = dict(itertools.islice(rows.items(), self._max_books))
            # Lookups run meanwhile without the lock: each dict operation is atomic.
            while table and len(table) + len(rows) > self._max_books:
                del table[next(iter(table))]
            table.update(rows)


class CatalogTrip:
    """The catalog as one trip sees it: kept rows of its generation, the rest read in it."""

    def __init__(self, db: FastReads, cache: CatalogCache, kept: _Kept) -> None:
        self._db = db
        self._cache = cache
        self._kept = kept

    def hidden(self) -> frozenset[int]:
        kept = self._kept
        if kept.hidden is None:
            hidden = catalog.hidden_book_ids(self._db)
            if kept.generation is None:
                return hidden
            kept.hidden = hidden  # one frozenset for the generation, whichever trip made it
        return kept.hidden

    def books(self, ids: Sequence[int], with_like_counts: bool = False) -> dict[int, BookRow]:
        """The rows of these books (hidden ones included; missing ids left out). Their
        `like_count` is as of when the row was read unless `with_like_counts` (then read
        in this trip)."""
        found = self._kept_or_read(ids, self._kept.books, catalog.book_rows_by_ids)
        if with_like_counts and found:
            counts = catalog.like_counts(self._db, list(found))
            for book, row in found.items():
                count = counts.get(book, row.like_count)
                if count != row.like_count:
                    found[book] = row._replace(like_count=count)  # never into the kept row
        return found

    def categories(self, ids: Sequence[int]) -> dict[int, list[CategoryRow]]:
        """Every id's categories (by name; [] for none or an unknown book): lists shared
        with other requests, which no caller changes."""
        return self._kept_or_read(ids, self._kept.categories, catalog.category_rows_of_books)

    def _kept_or_read(
        self,
        ids: Sequence[int],
        table: dict[int, T],
        read: Callable[[FastReads, Sequence[int]], dict[int, T]],
    ) -> dict[int, T]:
        """The kept values of these ids from `table`; the others read in one statement
        (`read`) and kept there if this trip's generation is still the process's."""
        found: dict[int, T] = {}
        missing: list[int] = []
        for book in ids:
            value = table.get(book)
            if value is None:
                missing.append(book)
            else:
                found[book] = value
        if missing:
            fresh = read(self._db, missing)
            self._cache._fill(self._kept, fresh, table)
            found.update(fresh)
        return found
