"""Hidden books with a real model: never listed, never recommended by any step of the chain
(masked before the top-k, so lists stay full), never continued into a list, never cited as
`because`, and hidden in every server process on the next request; their ratings kept."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa

from app.asgi import create_app
from tests.support.api import Api, client_for, login_as, make_settings, make_staff, rated_by
from tests.support.tiny_catalog import FANTASY, MOST_LIKED

REC = "query($n: Int!) { recommendations(first: $n) { source listId book { id } because { id } } }"
NEXT = "query($l: String!) { recommendations(first: 5, after: $l) { source book { id } } }"
SIMILAR = "query($b: ID!, $n: Int!) { similarBooks(bookId: $b, first: $n) { source book { id } } }"
HIDE = "mutation($b: ID!, $h: Boolean!) { setBookHidden(id: $b, hidden: $h) { id hidden } }"


async def _staff(api: Api, engine: sa.Engine, name: str = "keeper") -> str:
    token = await api.register(name)
    make_staff(engine, name)
    return token


async def _hide(api: Api, staff: str, *books: str | int, hidden: bool = True) -> None:
    for book in books:
        done = await api.ok(HIDE, {"b": str(book), "h": hidden}, staff)
        assert done["setBookHidden"] == {"id": str(book), "hidden": hidden}


async def _recs(api: Api, token: str, n: int) -> list[dict]:  # type: ignore[type-arg]
    return (await api.ok(REC, {"n": n}, token))["recommendations"]  # type: ignore[no-any-return]


def _ids(picks: list[dict]) -> list[str]:  # type: ignore[type-arg]
    return [p["book"]["id"] for p in picks]


async def test_model_step_masks_hidden_books_before_the_top_k(
    rec_api: Api, engine: sa.Engine
) -> None:
    staff = await _staff(rec_api, engine)
    reader = await login_as(rec_api, engine, 3)
    before = _ids(await _recs(rec_api, reader, 5))
    await _hide(rec_api, staff, before[0], before[2])
    after = await _recs(rec_api, reader, 5)
    assert len(after) == 5 and {p["source"] for p in after} == {"MODEL"}
    assert not {before[0], before[2]} & set(_ids(after))
    assert _ids(after)[:3] == [before[1], before[3], before[4]]  # the rest keeps its order
    await _hide(rec_api, staff, before[0], before[2], hidden=False)
    assert _ids(await _recs(rec_api, reader, 5)) == before


async def test_a_hidden_rated_book_is_never_the_because(rec_api: Api, engine: sa.Engine) -> None:
    staff = await _staff(rec_api, engine)
    reader = await login_as(rec_api, engine, 3)
    cited = {p["because"]["id"] for p in await _recs(rec_api, reader, 5) if p["because"]}
    assert cited
    await _hide(rec_api, staff, *cited)
    again = await _recs(rec_api, reader, 5)
    assert len(again) == 5
    assert not {p["because"]["id"] for p in again if p["because"]} & cited
    with engine.connect() as conn:  # the reader's ratings of them are kept
        assert cited <= rated_by(engine, 3)
        kept = conn.execute(sa.text("SELECT COUNT(*) FROM rating WHERE user_id = 3")).scalar()
    assert kept == 10


async def test_category_and_popular_steps_skip_hidden_books(
    rec_api: Api, engine: sa.Engine
) -> None:
    staff = await _staff(rec_api, engine)
    mystery_fan = await rec_api.register("newcomer", categories=["2"])
    nobody = await rec_api.register("blank")
    shelf = await _recs(rec_api, mystery_fan, 5)
    popular = await _recs(rec_api, nobody, 5)
    assert {p["source"] for p in shelf} == {"CATEGORY_POPULAR"}
    assert {p["source"] for p in popular} == {"POPULAR"}
    assert _ids(shelf)[0] == _ids(popular)[0] == str(MOST_LIKED)
    await _hide(rec_api, staff, MOST_LIKED, _ids(popular)[1])
    shelf_after, popular_after = (
        await _recs(rec_api, mystery_fan, 5),
        await _recs(rec_api, nobody, 5),
    )
    assert len(shelf_after) == len(popular_after) == 5
    assert str(MOST_LIKED) not in _ids(shelf_after) + _ids(popular_after)
    assert _ids(popular)[1] not in _ids(popular_after)
    # a whole list: every book but the hidden ones (and none missing)
    everything = _ids(await _recs(rec_api, nobody, 100))
    assert len(everything) == len(set(everything)) == 26 - 2


async def test_a_continued_list_never_serves_a_book_hidden_since(
    rec_api: Api, engine: sa.Engine
) -> None:
    staff = await _staff(rec_api, engine)
    reader = await login_as(rec_api, engine, 5)
    ranking = _ids(await _recs(rec_api, reader, 10))  # what the next page would hold
    first = await _recs(rec_api, reader, 3)
    assert _ids(first) == ranking[:3]
    await _hide(rec_api, staff, ranking[3], ranking[5])
    rest = (await rec_api.ok(NEXT, {"l": first[0]["listId"]}, reader))["recommendations"]
    assert len(rest) == 5
    assert not {ranking[3], ranking[5]} & set(_ids(rest))
    assert not set(_ids(first)) & set(_ids(rest))


async def test_similar_books_skip_hidden_ones_and_a_hidden_seed_is_not_found(
    rec_api: Api, engine: sa.Engine
) -> None:
    staff = await _staff(rec_api, engine)
    similar = (await rec_api.ok(SIMILAR, {"b": "1", "n": 5}))["similarBooks"]
    assert {p["source"] for p in similar} == {"MODEL"}
    await _hide(rec_api, staff, _ids(similar)[0])
    again = (await rec_api.ok(SIMILAR, {"b": "1", "n": 5}))["similarBooks"]
    assert len(again) == 5 and _ids(similar)[0] not in _ids(again)
    await _hide(rec_api, staff, "2")
    for token in (None, staff):  # for anyone, staff too: a hidden book seeds nothing
        error = await rec_api.error(SIMILAR, {"b": "2", "n": 5}, token)
        assert error["extensions"]["code"] == "NOT_FOUND"
        assert error["message"] == "No book with id 2."


async def test_hiding_takes_effect_on_the_next_request_in_every_process(
    rec_api: Api, engine: sa.Engine, database_url: str, model_dir: Path
) -> None:
    """A second server process over the same database (its own popularity snapshot and
    model, both loaded before the book was hidden) serves no hidden book either."""
    other_app = create_app(make_settings(database_url, model_dir=model_dir), engine)
    async with other_app.router.lifespan_context(other_app), client_for(other_app) as client:
        other = Api(client)
        nobody = await other.register("elsewhere")
        reader = await login_as(other, engine, 3)
        top = _ids(await _recs(other, nobody, 3))[0]
        model_top = _ids(await _recs(other, reader, 3))[0]
        staff = await _staff(rec_api, engine)  # hidden through the first process
        await _hide(rec_api, staff, top, model_top)
        assert top not in _ids(await _recs(other, nobody, 3))
        assert model_top not in _ids(await _recs(other, reader, 3))
        books = await other.ok("{ books(first: 100) { edges { node { id } } } }")
        assert not {top, model_top} & {e["node"]["id"] for e in books["books"]["edges"]}


async def test_a_new_book_is_listed_found_and_reached_by_the_fallbacks(
    rec_api: Api, engine: sa.Engine, database_url: str, model_dir: Path
) -> None:
    """A book added by staff has no model vector: listings, search and similar books reach
    it, a reader may rate it (fold-in ignores what the model does not know), and a process
    whose popularity snapshot is fresh offers it from the popularity steps."""
    staff = await _staff(rec_api, engine)
    added = await rec_api.ok(
        'mutation { addBook(input: { title: "Brand New Saga", authors: "A. Writer",'
        ' categoryIds: ["1"] }) { id hidden categories { name } } }',
        token=staff,
    )
    book = added["addBook"]
    assert book["hidden"] is False and book["categories"] == [{"name": "Fantasy"}]
    found = await rec_api.ok('{ books(search: "new saga") { edges { node { id } } } }')
    assert [e["node"]["id"] for e in found["books"]["edges"]] == [book["id"]]
    # This process refreshes its popularity snapshot once the edit is committed.
    for _ in range(100):
        near = (await rec_api.ok(SIMILAR, {"b": book["id"], "n": 3}))["similarBooks"]
        if near:
            break
        await asyncio.sleep(0.02)
    assert near and {p["source"] for p in near} == {"CATEGORY_POPULAR"}
    assert set(_ids(near)) <= {str(b) for b in FANTASY} | {"25"}
    reader = await rec_api.register("curious")
    await rec_api.ok(
        f'mutation {{ rateBook(bookId: "{book["id"]}", stars: 5) {{ stars }} }}', token=reader
    )
    assert len(await _recs(rec_api, reader, 5)) == 5  # no model vector for it: no crash
    fresh = create_app(make_settings(database_url, model_dir=model_dir), engine)
    async with fresh.router.lifespan_context(fresh), client_for(fresh) as client:
        other = Api(client)
        everything = _ids(await _recs(other, await other.register("browser"), 100))
        assert book["id"] in everything
