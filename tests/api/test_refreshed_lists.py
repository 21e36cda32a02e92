"""Lists that follow the reader: a reader the model was trained on who rates since gets a
list from their current ratings (REFRESHED), folded in from their trained vector."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa

from db.fastread import FastReads
from inference.vector_cache import VectorCache
from recommend.service import RecommendationService
from tests.support.api import Api, login_as, rated_by
from tests.support.tiny_catalog import MYSTERY

REC = "{ recommendations(first: 8) { source predictedStars book { id } because { id } } }"
RATE = "mutation($b: ID!, $s: Float!) { rateBook(bookId: $b, stars: $s) { stars } }"


async def test_a_known_reader_who_rates_gets_a_list_that_follows(
    rec_api: Api, engine: sa.Engine
) -> None:
    token = await login_as(rec_api, engine, 3)  # a fantasy reader the model knows
    before = (await rec_api.ok(REC, token=token))["recommendations"]
    assert {r["source"] for r in before} == {"MODEL"}
    assert (await rec_api.ok(REC, token=token))["recommendations"] == before  # unchanged: MODEL

    unrated_mystery = [str(b) for b in MYSTERY if str(b) not in rated_by(engine, 3)]
    for book in unrated_mystery[:5]:  # a new taste, loudly
        await rec_api.ok(RATE, {"b": book, "s": 5.0}, token)
    after = (await rec_api.ok(REC, token=token))["recommendations"]
    assert {r["source"] for r in after} == {"REFRESHED"}
    shown = {r["book"]["id"] for r in after}
    assert not shown & rated_by(engine, 3)
    # The new taste shows: the mystery books on both lists are now predicted higher.
    mystery = {str(b) for b in MYSTERY}
    stars_before = {r["book"]["id"]: r["predictedStars"] for r in before}
    both = [r for r in after if r["book"]["id"] in mystery and r["book"]["id"] in stars_before]
    assert both and all(r["predictedStars"] > stars_before[r["book"]["id"]] + 0.1 for r in both)
    assert [r["book"]["id"] for r in after] != [r["book"]["id"] for r in before]
    assert all(r["predictedStars"] is not None and r["because"] for r in after)
    # asked again with the same ratings: the same list (the folded vector is kept)
    assert (await rec_api.ok(REC, token=token))["recommendations"] == after


async def test_deleting_the_new_rating_goes_back_to_the_model(
    rec_api: Api, engine: sa.Engine
) -> None:
    token = await login_as(rec_api, engine, 3)
    before = (await rec_api.ok(REC, token=token))["recommendations"]
    book = next(str(b) for b in MYSTERY if str(b) not in rated_by(engine, 3))
    await rec_api.ok(RATE, {"b": book, "s": 4.5}, token)
    assert {r["source"] for r in (await rec_api.ok(REC, token=token))["recommendations"]} == {
        "REFRESHED"
    }
    await rec_api.ok("mutation($b: ID!) { deleteRating(bookId: $b) }", {"b": book}, token)
    assert (await rec_api.ok(REC, token=token))["recommendations"] == before


def _assert_served_on_the_loop(
    trips: list[tuple[int, bool]], loop_thread: int, on_sqlite: bool
) -> None:
    """One trip, on the loop on SQLite; in a thread on PostgreSQL."""
    if on_sqlite:
        assert trips == [(loop_thread, True)]
    else:
        assert len(trips) == 1 and trips[0][0] != loop_thread and not trips[0][1]


async def test_a_fold_in_is_never_computed_on_the_event_loop(
    rec_api: Api, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite the trip runs on the event loop (db.session.read_fast), but a refreshed
    reader's first list needs a fold-in: that trip is offloaded to a thread, and the next
    list, from the cached vector, is served on the loop again."""
    loop_thread = threading.get_ident()
    folded_on: list[int] = []
    trips: list[tuple[int, bool]] = []
    get, for_reader = VectorCache.get, RecommendationService._for_reader

    def recorded_get(self: VectorCache, key: Any, compute: Any) -> Any:
        def fold() -> Any:
            folded_on.append(threading.get_ident())
            return compute()

        return get(self, key, fold)

    def recorded_trip(self: RecommendationService, db: FastReads, *args: Any) -> Any:
        trips.append((threading.get_ident(), db.inline))
        return for_reader(self, db, *args)

    monkeypatch.setattr(VectorCache, "get", recorded_get)
    monkeypatch.setattr(RecommendationService, "_for_reader", recorded_trip)
    on_sqlite = engine.dialect.name == "sqlite"
    token = await login_as(rec_api, engine, 3)
    await rec_api.ok(REC, token=token)
    _assert_served_on_the_loop(trips, loop_thread, on_sqlite)
    book = next(str(b) for b in MYSTERY if str(b) not in rated_by(engine, 3))
    await rec_api.ok(RATE, {"b": book, "s": 5.0}, token)
    trips.clear()
    first = (await rec_api.ok(REC, token=token))["recommendations"]
    assert {r["source"] for r in first} == {"REFRESHED"}
    assert len(folded_on) == 1 and folded_on[0] != loop_thread
    if on_sqlite:  # tried on the loop, given up before any work, done again in a thread
        assert trips[0] == (loop_thread, True) and trips[1][1] is False
        assert trips[1][0] != loop_thread and len(trips) == 2
    trips.clear()
    again = (await rec_api.ok(REC, token=token))["recommendations"]
    assert again == first and len(folded_on) == 1  # the cached vector, not folded again
    _assert_served_on_the_loop(trips, loop_thread, on_sqlite)
