"""Every list served is recorded: its id, who asked, what for, and each position's book and
chain step. Recording never makes a request wait for the database or fail: lists are
buffered and written in batches by a background thread (bounded: past `max_pending`
positions waiting, new lists are dropped and counted). A clean shutdown writes what is
buffered; a crash loses at most the last unwritten batch of lists, never a rating (ratings
are written by their own transactions). A list being continued is read from the buffer and
the database alike.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from db import lists as db_lists
from db.errors import database_unavailable, one_line
from recommend.types import Pick

log = logging.getLogger("bookrec.lists")

LIST_ID_BYTES = 16  # 6 bytes of milliseconds since the epoch, then 10 random bytes


def new_list_id(now: float | None = None) -> str:
    millis = int((time.time() if now is None else now) * 1000)
    raw = millis.to_bytes(6, "big") + os.urandom(LIST_ID_BYTES - 6)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def list_id_age(list_id: str, now: float | None = None) -> float | None:
    """Seconds since a list id was made, or None if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(list_id + "=" * (-len(list_id) % 4))
    except (ValueError, TypeError):
        return None
    if len(raw) != LIST_ID_BYTES or len(list_id) != 22:
        return None
    made = int.from_bytes(raw[:6], "big") / 1000
    return (time.time() if now is None else now) - made


@dataclass
class ServedList:
    """A list as asked for; `shown` grows with every page served."""

    id: str
    user_id: int | None
    kind: str  # "recommendations" | "similar"
    anchor_book_id: int | None = None
    category_id: int | None = None
    diversity: float = 0.0
    model_version: str | None = None
    variant: str | None = None
    shown: list[int] = field(default_factory=list)  # book ids, by position

    def header(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user_id": self.user_id,
            "kind": self.kind,
            "anchor_book_id": self.anchor_book_id,
            "category_id": self.category_id,
            "diversity": self.diversity,
            "model_version": self.model_version,
            "variant": self.variant,
            "created_at": datetime.now(UTC),
        }


@dataclass
class _Pending:
    header: dict[str, Any] | None  # None: the list was stored before (a continuation page)
    items: list[dict[str, Any]]


# Told of every page recorded: (kind, each pick's chain step, variant); e.g. metrics.
Observer = Callable[[str, list[str], str | None], None]


class ListRecorder:
    def __init__(
        self,
        engine: Engine,
        flush_seconds: float = 0.5,
        max_pending: int = 200_000,
        enabled: bool = True,
        observer: Observer | None = None,
    ) -> None:
        self._engine = engine
        # Off (BOOKREC_RECORD_LISTS=false): nothing is recorded, so lists cannot be
        # continued nor their opens reported; for measuring what recording costs.
        self.enabled = enabled
        self._observer = observer
        self.flush_seconds = flush_seconds
        self._max_pending = max_pending
        self._pending: dict[str, _Pending] = {}
        self._pending_items = 0
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.dropped = 0  # pages not recorded: the buffer was full, or they became unwritable
        self.written = 0  # positions that reached the database

    # ------------------------------------------------------------------ request path
    def record(self, served: ServedList, picks: list[Pick], first_position: int) -> None:
        """Buffer one page of a list (never blocks on the database)."""
        if self._observer is not None:
            try:
                self._observer(served.kind, [p.source.value for p in picks], served.variant)
            except Exception:  # an observer never fails a request
                log.exception("list observer failed")
        if not self.enabled:
            return
        now = datetime.now(UTC)
        items = [
            {
                "list_id": served.id,
                "position": first_position + i,
                "book_id": pick.book_id,
                "source": pick.source.value,
                "score": float(pick.score),
                "served_at": now,
            }
            for i, pick in enumerate(picks)
        ]
        with self._lock:
            if self._pending_items + len(items) > self._max_pending:
                self.dropped += 1
                return
            pending = self._pending.get(served.id)
            if pending is None:
                header = served.header() if first_position == 0 else None
                self._pending[served.id] = _Pending(header, items)
            else:
                pending.items.extend(items)
            self._pending_items += len(items)
        if self._thread is None:  # not started (tests, embedders): write now
            self.flush()

    def pending(self, list_id: str) -> tuple[dict[str, Any] | None, list[tuple[int, int]]]:
        """(header if still buffered, buffered (position, book id)) of a list."""
        with self._lock:
            found = self._pending.get(list_id)
            if found is None:
                return None, []
            return found.header, [(i["position"], i["book_id"]) for i in found.items]

    @property
    def depth(self) -> int:
        """Positions waiting to be written."""
        return self._pending_items

    # ------------------------------------------------------------------ writer
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="list-recorder", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is buffered, then stop the writer (a clean shutdown loses nothing)."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            try:
                self.flush()
            except Exception as exc:  # the database is away: keep the buffer, try again later
                if database_unavailable(exc):
                    log.warning(
                        "could not write served lists; %d positions kept: %s",
                        self.depth,
                        one_line(exc),
                    )
                else:
                    log.exception("could not write served lists; %d positions kept", self.depth)

    def flush(self) -> None:
        with self._flushing:
            self._flush()

    def _flush(self) -> None:
        with self._lock:  # a snapshot: pages recorded meanwhile wait for the next batch
            batch = {k: _Pending(p.header, list(p.items)) for k, p in self._pending.items()}
        if not batch:
            return
        headers = [p.header for p in batch.values() if p.header is not None]
        items = [i for p in batch.values() for i in p.items]
        unwritable: set[str] = set()
        try:
            db_lists.write_lists(self._engine, headers, items)
            written = batch
        except Exception as exc:
            if not _is_integrity_error(exc):
                raise
            # A list naming a reader or book deleted since: write the others one by one.
            written = {}
            for list_id, pending in batch.items():
                try:
                    db_lists.write_lists(
                        self._engine, [pending.header] if pending.header else [], pending.items
                    )
                    written[list_id] = pending
                except Exception as one:
                    if not _is_integrity_error(one):
                        raise
                    written[list_id] = pending  # unwritable: drop it, do not retry forever
                    unwritable.add(list_id)
                    self.dropped += 1
        with self._lock:
            for list_id, done in written.items():
                current = self._pending[list_id]
                rest = current.items[len(done.items) :]
                self._pending_items -= len(done.items)
                self.written += 0 if list_id in unwritable else len(done.items)
                if rest:
                    self._pending[list_id] = _Pending(None, rest)
                else:
                    del self._pending[list_id]


def _is_integrity_error(exc: BaseException) -> bool:
    import sqlalchemy as sa

    return isinstance(exc, sa.exc.IntegrityError)
