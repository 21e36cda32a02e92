"""Lists that follow the reader: a reader the model was trained on who rates since gets a
list from their current ratings (REFRESHED), folded in from their trained vector."""

from __future__ import annotations

import sqlalchemy as sa

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
