"""Positions of external ids (user or book ids) in a model's arrays."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

_BY_DICT = 128  # up to this many ids (not an array), looked up one by one


class IdIndex:
    """-1 where an id is unknown. Scalar lookups and short lists by dict, arrays and long
    lists by one searchsorted."""

    def __init__(self, ids: np.ndarray) -> None:
        self._order = np.argsort(ids, kind="stable")
        self._sorted = ids[self._order]
        self._scalar = {int(v): i for i, v in enumerate(ids.tolist())}

    def position(self, id_: int) -> int:
        return self._scalar.get(int(id_), -1)

    @property
    def by_id(self) -> Mapping[int, int]:
        """id -> position, for the known ids only (read-only: a request's few ids are
        looked up in it directly, without a call per id)."""
        return self._scalar

    def positions(self, ids: Iterable[int] | np.ndarray) -> np.ndarray:
        if not isinstance(ids, np.ndarray):
            ids = ids if isinstance(ids, list | tuple | set | frozenset) else list(ids)
            if len(ids) <= _BY_DICT:  # a request's few ids: dict lookups beat numpy's calls
                get = self._scalar.get
                return np.array([get(int(i), -1) for i in ids], dtype=np.int64)
        return self._searched(ids)

    def known_positions(self, ids: Iterable[int] | np.ndarray) -> list[int] | np.ndarray:
        """The positions of those of `ids` that are known (the unknown ones left out)."""
        if not isinstance(ids, np.ndarray):
            ids = ids if isinstance(ids, list | tuple | set | frozenset) else list(ids)
            if len(ids) <= _BY_DICT:
                get = self._scalar.get
                return [p for i in ids if (p := get(int(i), -1)) >= 0]
        found = self._searched(ids)
        return found[found >= 0]

    def _searched(self, ids: Iterable[int] | np.ndarray) -> np.ndarray:
        if isinstance(ids, np.ndarray):
            ids = ids.astype(np.int64, copy=False).ravel()
        elif isinstance(ids, set | frozenset):
            ids = np.fromiter(ids, dtype=np.int64, count=len(ids))
        else:
            ids = np.asarray(list(ids), dtype=np.int64).ravel()
        if self._sorted.size == 0:
            return np.full(ids.shape, -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self._sorted, ids), self._sorted.size - 1)
        return np.where(self._sorted[pos] == ids, self._order[pos], -1)
