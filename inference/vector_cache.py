"""Folded-in reader vectors, kept while the reader's history and the model are unchanged.

A fold-in runs dozens of numpy steps; scoring a vector is one onnxruntime run. A reader who
asks again (the next page, the home screen again) with the same ratings gets the same
vector, so it is computed once per (reader, history fingerprint) and model (the cache lives
in the model's Recommender). Bounded: least recently used out.

A caller that must not wait for a fold-in (a trip on the event loop: see
`db.session.read_fast`) asks inside `fold_ins_deferred()`: a vector not cached yet then
raises `FoldInDeferred` instead of being computed, and the caller does it elsewhere."""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextvars import ContextVar

from inference.foldin import Vector

CAPACITY = 20_000  # about 5 MB of 64-dim vectors

_DEFERRED: ContextVar[bool] = ContextVar("bookrec_fold_ins_deferred", default=False)


class FoldInDeferred(Exception):
    """A vector was not cached, and the caller asked not to compute one here."""


@contextlib.contextmanager
def fold_ins_deferred(deferred: bool = True) -> Iterator[None]:
    """Inside: a vector cache miss raises `FoldInDeferred` (if `deferred`) instead of
    folding in. Nothing is counted or stored for the miss."""
    token = _DEFERRED.set(deferred)
    try:
        yield
    finally:
        _DEFERRED.reset(token)


class VectorCache:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self._capacity = capacity
        self._items: OrderedDict[Hashable, Vector] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, compute: Callable[[], Vector]) -> Vector:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return found
            if _DEFERRED.get():
                raise FoldInDeferred
            self.misses += 1
        vector = compute()  # outside the lock: two threads may both compute; both agree
        with self._lock:
            self._items[key] = vector
            self._items.move_to_end(key)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return vector

    def __len__(self) -> int:
        return len(self._items)
