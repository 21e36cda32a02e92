"""Popularity ranking of the whole catalog, for cold start and fallbacks.

Counting ratings per book is a scan of the ratings table, too slow to repeat per request
on a large database, so a snapshot is kept in memory and refreshed in the background once
it is older than its time to live (requests meanwhile use the previous snapshot)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa
from sqlmodel import col

from db.engine import make_engine
from db.errors import database_unavailable, one_line
from db.models import Book, BookCategory, Rating

log = logging.getLogger("bookrec.popularity")


@dataclass(frozen=True)
class PopularityIndex:
    """Books ordered by like count, then number of ratings, then id."""

    book_ids: np.ndarray  # int64, most popular first
    scores: np.ndarray  # float32 in (0, 1], same order
    categories: dict[int, frozenset[int]]
    # The same ranking as Python values, made once: the top-k scans run per request.
    _ranking: list[tuple[int, float]] = field(init=False, repr=False, compare=False)
    _members: dict[int, np.ndarray] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ranking = list(zip(self.book_ids.tolist(), self.scores.tolist(), strict=True))
        object.__setattr__(self, "_ranking", ranking)
        object.__setattr__(self, "_members", {})

    def top(
        self,
        k: int,
        exclude: Iterable[int] = (),
        category_ids: Iterable[int] | None = None,
        within: int | None = None,
    ) -> list[tuple[int, float]]:
        """The k most popular books not excluded; with `category_ids`, only books in one of
        them; with `within`, only books of that category."""
        excluded = set(exclude)
        wanted = None if category_ids is None else frozenset(category_ids)
        out: list[tuple[int, float]] = []
        for book_id, score in self._ranking:
            if book_id in excluded:
                continue
            if wanted is not None or within is not None:
                theirs = self.categories.get(book_id, frozenset())
                if wanted is not None and not theirs & wanted:
                    continue
                if within is not None and within not in theirs:
                    continue
            out.append((book_id, score))
            if len(out) == k:
                break
        return out

    def categories_of(self, book_id: int) -> frozenset[int]:
        return self.categories.get(book_id, frozenset())

    def in_category(self, category_id: int) -> np.ndarray:
        """Ids of the books of a category (made once per snapshot and category)."""
        found = self._members.get(category_id)
        if found is None:
            found = np.array(
                sorted(b for b, cats in self.categories.items() if category_id in cats),
                dtype=np.int64,
            )
            self._members[category_id] = found
        return found

    def category_neighbours(
        self, book_id: int, k: int, exclude: Iterable[int] = (), within: int | None = None
    ) -> list[tuple[int, float]]:
        """Books sharing the most categories with `book_id` (Jaccard), popular first on ties;
        with `within`, only books of that category."""
        mine = self.categories.get(book_id, frozenset())
        if not mine:
            return []
        excluded = set(exclude) | {book_id}
        scored = []
        for rank, (other, _) in enumerate(self._ranking):
            theirs = self.categories.get(other)
            if other in excluded or not theirs or (within is not None and within not in theirs):
                continue
            shared = len(mine & theirs)
            if shared:
                scored.append((-shared / len(mine | theirs), rank, other))
        scored.sort()
        return [(other, -neg) for neg, _, other in scored[:k]]


def load_popularity(engine: sa.Engine) -> PopularityIndex:
    counts = (
        sa.select(col(Rating.book_id), sa.func.count().label("n"))
        .group_by(col(Rating.book_id))
        .subquery()
    )
    stmt = (
        sa.select(col(Book.id), col(Book.like_count), sa.func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.book_id == col(Book.id))
        .order_by(col(Book.like_count).desc(), sa.func.coalesce(counts.c.n, 0).desc(), col(Book.id))
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
        links = conn.execute(
            sa.select(col(BookCategory.book_id), col(BookCategory.category_id))
        ).all()
    categories: dict[int, set[int]] = {}
    for book_id, category_id in links:
        categories.setdefault(book_id, set()).add(category_id)
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    # A score in (0, 1] that keeps the order: 1 for the most popular, decaying by rank.
    scores = (1.0 / np.log2(np.arange(len(rows)) + 2.0)).astype(np.float32)
    return PopularityIndex(ids, scores, {b: frozenset(c) for b, c in categories.items()})


class PopularityCache:
    def __init__(self, database_url: str, ttl_seconds: float = 30.0) -> None:
        # Its own connections, outside the request pool: requests that hold pooled
        # connections may be waiting for this snapshot.
        self._engine = make_engine(database_url, poolclass=sa.pool.NullPool)
        self._ttl = ttl_seconds
        self._index: PopularityIndex | None = None
        self._loaded_at = 0.0
        self._lock = threading.Lock()
        self._refreshing = False
        self._again = False  # asked for while a refresh ran: run one more after it

    def get(self) -> PopularityIndex:
        """Blocking (call from a worker thread). Loads on first use; afterwards returns the
        snapshot at once and refreshes a stale one in the background."""
        index = self._index
        if index is None:
            with self._lock:
                if self._index is None:
                    self._store(load_popularity(self._engine))
                assert self._index is not None
                return self._index
        if time.monotonic() - self._loaded_at > self._ttl:
            self._refresh_in_background()
        return index

    @property
    def loaded(self) -> bool:
        """Whether `get` returns at once (the first snapshot has been read)."""
        return self._index is not None

    def refresh_soon(self) -> None:
        """Refresh in the background now, whatever the snapshot's age (after the catalog
        changed through this process); never blocks. A refresh already running may have
        read before the change, so one more follows it."""
        self._refresh_in_background(again=True)

    def dispose(self) -> None:
        self._engine.dispose()

    def _store(self, index: PopularityIndex) -> None:
        self._index = index
        self._loaded_at = time.monotonic()

    def _refresh_in_background(self, again: bool = False) -> None:
        with self._lock:
            if self._refreshing:
                self._again = self._again or again
                return
            self._refreshing = True

        def work() -> None:
            while True:
                try:
                    self._store(load_popularity(self._engine))
                except Exception as exc:  # keep serving the previous snapshot; try again later
                    if database_unavailable(exc):
                        log.warning("popularity refresh failed: %s", one_line(exc))
                    else:
                        log.exception("popularity refresh failed")
                with self._lock:
                    if not self._again:
                        self._refreshing = False
                        return
                    self._again = False

        threading.Thread(target=work, name="popularity-refresh", daemon=True).start()
