"""`listId` and `recommendations(after: listId)`: an infinite scroll that never repeats a
book, also when the model changes or the reader rates in between; every list recorded."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa

from recommend.lists import new_list_id
from tests.support.api import Api, login_as, rated_by
from tests.support.artifacts import publish
from tests.support.tiny_catalog import MYSTERY, NEW_BOOKS

PAGE = """query($n: Int!, $after: String, $c: ID) {
  recommendations(first: $n, after: $after, categoryId: $c) { listId source book { id } } }"""
RATE = "mutation($b: ID!) { rateBook(bookId: $b, stars: 4) { stars } }"
ALL_BOOKS = 26


async def page(
    api: Api, token: str, n: int, after: str | None = None, **extra: object
) -> tuple[str | None, list[str]]:
    items = (await api.ok(PAGE, {"n": n, "after": after, **extra}, token))["recommendations"]
    ids = {r["listId"] for r in items}
    assert len(ids) <= 1, ids  # one list id for the whole page
    return (ids.pop() if ids else None), [r["book"]["id"] for r in items]


async def test_pages_continue_the_list_without_repeating_until_it_runs_out(
    rec_api: Api, engine: sa.Engine
) -> None:
    token = await login_as(rec_api, engine, 3)
    list_id, first = await page(rec_api, token, 5)
    assert list_id is not None and len(first) == 5
    seen = list(first)
    while True:
        same, more = await page(rec_api, token, 5, after=list_id)
        if not more:
            break
        assert same == list_id
        assert not set(more) & set(seen), (seen, more)
        seen += more
    assert len(seen) == len(set(seen)) == ALL_BOOKS - len(rated_by(engine, 3))
    # The first page of the same request, asked again, is a new list from the top.
    again, top = await page(rec_api, token, 5)
    assert again != list_id and top == first


async def test_a_continued_list_survives_a_model_switch_and_new_ratings(
    rec_api: Api, engine: sa.Engine, model_dir: Path
) -> None:
    token = await login_as(rec_api, engine, 3)
    list_id, first = await page(rec_api, token, 6)
    publish(model_dir, "v0001")  # the other trained version
    for _ in range(200):
        info = await rec_api.ok("{ modelInfo { version } }")
        if info["modelInfo"]["version"] == "v0001":
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the server did not switch models")
    await rec_api.ok(RATE, {"b": first[0]}, token)  # rated a shown book, and one not shown
    unshown = next(
        b for b in map(str, range(1, 27)) if b not in first and b not in rated_by(engine, 3)
    )
    await rec_api.ok(RATE, {"b": unshown}, token)
    same, second = await page(rec_api, token, 6, after=list_id)
    assert same == list_id and len(second) == 6
    assert not set(second) & (set(first) | rated_by(engine, 3))


async def test_a_continued_shelf_keeps_its_category(rec_api: Api, engine: sa.Engine) -> None:
    token = await login_as(rec_api, engine, 3)
    mystery = {str(b) for b in [*MYSTERY, NEW_BOOKS[1]]}
    list_id, first = await page(rec_api, token, 4, c="2")
    _, second = await page(rec_api, token, 4, after=list_id)
    assert set(first + second) <= mystery and not set(first) & set(second)
    error = await rec_api.error(PAGE, {"n": 4, "after": list_id, "c": "1"}, token)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_unknown_and_foreign_lists_are_clear_errors(rec_api: Api, engine: sa.Engine) -> None:
    mine = await login_as(rec_api, engine, 3)
    theirs = await login_as(rec_api, engine, 30)
    list_id, _ = await page(rec_api, mine, 3)
    for after, token in [
        (list_id, theirs),  # someone else's list
        ("not-a-list", mine),
        (new_list_id(now=1_000_000.0), mine),  # well formed, never served
    ]:
        error = await rec_api.error(PAGE, {"n": 3, "after": after}, token)
        assert error["extensions"]["code"] == "NOT_FOUND", error
        assert "list" in error["message"]


async def test_every_list_served_is_recorded(rec_api: Api, engine: sa.Engine) -> None:
    token = await login_as(rec_api, engine, 3)
    list_id, first = await page(rec_api, token, 5)
    _, second = await page(rec_api, token, 5, after=list_id)
    similar = await rec_api.ok('{ similarBooks(bookId: "1", first: 4) { listId book { id } } }')
    similar_id = similar["similarBooks"][0]["listId"]
    for _ in range(200):  # the recorder writes in the background, every list_flush_seconds
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT l.id, l.user_id, l.kind, l.anchor_book_id, l.model_version,"
                    " i.position, i.book_id, i.source FROM rec_list l"
                    " JOIN rec_list_item i ON i.list_id = l.id ORDER BY l.id, i.position"
                )
            ).all()
        if len(rows) == 14:
            break
        await asyncio.sleep(0.05)
    by_list: dict[str, list[tuple]] = {}
    for row in rows:
        by_list.setdefault(row[0], []).append(row)
    ours = by_list[list_id]
    assert [r[6] for r in ours] == [int(b) for b in first + second]
    assert [r[5] for r in ours] == list(range(10))
    assert {(r[1], r[2], r[4]) for r in ours} == {(3, "recommendations", "v0002")}
    assert {r[7] for r in ours} == {"MODEL"}
    theirs = by_list[similar_id]
    assert len(theirs) == 4 and {(r[1], r[2], r[3]) for r in theirs} == {(None, "similar", 1)}


async def test_a_list_continued_on_two_servers_in_turn_never_repeats_a_book(
    rec_api: Api, engine: sa.Engine, database_url: str, model_dir: Path
) -> None:
    """Each server keeps the positions of a list it has read and reads only the later
    ones: the pages the other server served in between must still be found (two apps over
    one database, as two hosts; each page waits until its server has written it)."""
    from app.asgi import create_app
    from tests.support.api import client_for, make_settings

    other = create_app(make_settings(database_url, model_dir=model_dir), engine)
    async with other.router.lifespan_context(other), client_for(other) as client:
        second = Api(client)
        token = await login_as(rec_api, engine, 3)
        list_id, seen = await page(rec_api, token, 3)
        servers = [second, rec_api]
        turn = 0
        while True:
            await _written(engine, list_id, len(seen))
            same, more = await page(servers[turn % 2], token, 3, after=list_id)
            if not more:
                break
            assert same == list_id
            assert not set(more) & set(seen), (turn, seen, more)
            seen += more
            turn += 1
    assert turn >= 4  # each server continued the list after the other had
    assert len(seen) == len(set(seen)) == ALL_BOOKS - len(rated_by(engine, 3))


async def _written(engine: sa.Engine, list_id: str | None, positions: int) -> None:
    for _ in range(200):  # the recorder writes in the background, every list_flush_seconds
        with engine.connect() as conn:
            stored = conn.execute(
                sa.text("SELECT COUNT(*) FROM rec_list_item WHERE list_id = :l"), {"l": list_id}
            ).scalar_one()
        if stored == positions:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{list_id}: {stored} of {positions} positions written")
