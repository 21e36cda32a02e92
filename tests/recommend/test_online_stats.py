"""The experiment's arithmetic, by hand: the group hash, attribution to the latest showing,
and the delta-method interval on the difference of open rates."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from db.online import Candidate, ReaderCounts
from recommend.experiments import CONTROL, VARIANT, Assignment, bucket
from recommend.online import attribute, compare, ratio_estimate

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_groups_are_stable_hashed_shares_and_anonymous_readers_are_control() -> None:
    experiment = Assignment(1, "v0003", 0.2, "salt-a")
    groups = [experiment.group(u) for u in range(1, 20_001)]
    assert groups == [experiment.group(u) for u in range(1, 20_001)]  # stable
    assert groups.count(VARIANT) / len(groups) == pytest.approx(0.2, abs=0.01)
    assert experiment.group(None) == CONTROL
    # Another experiment (salt) draws its groups afresh.
    other = Assignment(2, "v0003", 0.2, "salt-b")
    overlap = sum(experiment.group(u) == other.group(u) == VARIANT for u in range(1, 20_001)) / len(
        groups
    )
    assert overlap == pytest.approx(0.04, abs=0.01)
    assert bucket("s", 1) == bucket("s", 1) and 0 <= bucket("s", 1) < 1


def candidate(list_id: str, served: float, at: float, kind: str = "rating") -> Candidate:
    return Candidate(
        kind,
        7,
        42,
        T0 + timedelta(hours=at),
        list_id,
        T0 + timedelta(hours=served),
        T0 + timedelta(hours=served),
        "v1",
        CONTROL,
        "MODEL",
    )


def test_an_outcome_goes_to_the_latest_showing_within_the_window() -> None:
    window = timedelta(hours=24)
    found = attribute([candidate("a", 0, 30), candidate("b", 10, 30)], window)
    assert [c.list_id for c in found] == ["b"]
    # The latest showing is out of the window: nothing is attributed.
    assert attribute([candidate("a", 0, 30), candidate("b", 5, 30)], window) == []
    # A rating and a like of the same book are two outcomes.
    both = attribute([candidate("a", 0, 1), candidate("a", 0, 2, kind="liked")], window)
    assert sorted(c.kind for c in both) == ["liked", "rating"]


def test_the_interval_is_the_delta_method_over_readers() -> None:
    control = [ReaderCounts(u, CONTROL, m, o) for u, m, o in [(1, 10, 1), (2, 10, 3), (3, 20, 2)]]
    variant = [ReaderCounts(u, VARIANT, m, o) for u, m, o in [(4, 10, 5), (5, 10, 6), (6, 10, 4)]]
    c = ratio_estimate(control)
    assert c.rate == pytest.approx(6 / 40)
    # residuals o - R m: 1 - 1.5, 3 - 1.5, 2 - 3 -> -0.5, 1.5, -1; variance (n-1): 3.5 / 2
    assert c.variance == pytest.approx(1.75 / (3 * (40 / 3) ** 2))
    v = ratio_estimate(variant)
    assert v.rate == pytest.approx(0.5)
    assert v.variance == pytest.approx(1.0 / (3 * 10**2))  # residuals 0, 1, -1
    result = compare(control + variant)
    assert result.difference == pytest.approx(0.5 - 0.15)
    half = 1.959963984540054 * math.sqrt(c.variance + v.variance)  # type: ignore[operator]
    assert (result.low, result.high) == pytest.approx((0.35 - half, 0.35 + half))
    # One reader in a group: a difference, but no interval.
    lone = compare([*control, variant[0]])
    assert lone.difference == pytest.approx(0.5 - 0.15) and lone.low is None
    assert compare(control).difference is None
