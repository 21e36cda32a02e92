"""IdIndex: every form of input gives the same positions (-1 for unknown ids), whether it is
looked up id by id (short lists) or by one searchsorted (arrays, long lists)."""

from __future__ import annotations

import numpy as np
import pytest

from inference.ids import _BY_DICT, IdIndex


@pytest.fixture
def index_and_ids() -> tuple[IdIndex, np.ndarray]:
    rng = np.random.default_rng(5)
    ids = rng.choice(np.arange(1, 10 * 2000), size=2000, replace=False).astype(np.int64)
    return IdIndex(ids), ids


def _expected(ids: np.ndarray, wanted: list[int]) -> list[int]:
    where = {int(v): i for i, v in enumerate(ids.tolist())}
    return [where.get(w, -1) for w in wanted]


@pytest.mark.parametrize("n", [0, 1, 7, _BY_DICT, _BY_DICT + 1, 600])
def test_positions_agree_for_every_input_form(index_and_ids, n: int) -> None:
    index, ids = index_and_ids
    rng = np.random.default_rng(n)
    known = rng.choice(ids, size=n // 2).tolist()
    unknown = (rng.integers(10 * 2000, 20 * 2000, size=n - n // 2)).tolist()
    wanted = [int(x) for x in rng.permutation(np.array(known + unknown, dtype=np.int64))]
    expected = _expected(ids, wanted)
    for form in (wanted, tuple(wanted), np.array(wanted, dtype=np.int64), iter(wanted)):
        got = index.positions(form)
        assert got.dtype == np.int64 and got.shape == (n,)
        assert got.tolist() == expected
    for form in (set(wanted), frozenset(wanted)):  # order is the set's own
        order = list(form)
        assert index.positions(form).tolist() == _expected(ids, order)
    numpy_ints = [np.int64(w) for w in wanted]
    assert index.positions(numpy_ints).tolist() == expected


@pytest.mark.parametrize("n", [0, 1, 7, _BY_DICT, _BY_DICT + 1, 600])
def test_known_positions_are_the_positions_of_the_known_ids(index_and_ids, n: int) -> None:
    index, ids = index_and_ids
    rng = np.random.default_rng(n + 1)
    known = rng.choice(ids, size=n // 2).tolist()
    unknown = (rng.integers(10 * 2000, 20 * 2000, size=n - n // 2)).tolist()
    wanted = [int(x) for x in rng.permutation(np.array(known + unknown, dtype=np.int64))]
    expected = [p for p in _expected(ids, wanted) if p >= 0]
    for form in (wanted, tuple(wanted), np.array(wanted, dtype=np.int64), iter(wanted)):
        assert list(index.known_positions(form)) == expected
    assert sorted(index.known_positions(set(wanted))) == sorted(set(expected))
    assert all(index.by_id[int(ids[p])] == p for p in expected)


def test_an_empty_index_knows_no_id() -> None:
    empty = IdIndex(np.array([], dtype=np.int64))
    assert empty.positions([1, 2]).tolist() == [-1, -1]
    assert empty.positions(np.arange(300)).tolist() == [-1] * 300
    assert empty.position(1) == -1
