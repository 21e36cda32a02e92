"""Servers keep the books their lists show while the catalog is unchanged (db.catalog_cache):
an edit made through another server process, or around the service in the database, shows
in the next list of every process; like counts are as of the request that asks for them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app.asgi import create_app
from tests.support.api import Api, client_for, login_as, make_settings, make_staff

REC = """{ recommendations(first: 5) { book { id title likeCount categories { name } }
  because { id title } } }"""
SIMILAR = """query($b: ID!) { similarBooks(bookId: $b, first: 5) {
  book { id title likeCount categories { name } } } }"""
UPDATE = "mutation($b: ID!, $i: BookInput!) { updateBook(id: $b, input: $i) { id } }"
ADD_CATEGORY = "mutation($n: String!) { addCategory(name: $n) { id } }"
LIKE = "mutation($b: ID!) { likeBook(bookId: $b) { id } }"


def _book(items: list[dict[str, Any]], book_id: str) -> dict[str, Any]:
    return next(item["book"] for item in items if item["book"]["id"] == book_id)


async def test_edits_show_in_the_next_list_of_every_process(
    rec_api: Api, engine: sa.Engine, database_url: str, model_dir: Path
) -> None:
    other_app = create_app(make_settings(database_url, model_dir=model_dir), engine)
    async with other_app.router.lifespan_context(other_app), client_for(other_app) as client:
        other = Api(client)
        reader = await login_as(other, engine, 3)
        first = (await other.ok(REC, token=reader))["recommendations"]
        await other.ok(REC, token=reader)  # served again: kept by the other process now
        top = first[0]["book"]
        because = next(item["because"] for item in first if item["because"])

        staff = await rec_api.register("keeper")
        make_staff(engine, "keeper")
        shelf = (await rec_api.ok(ADD_CATEGORY, {"n": "Staff Picks"}, staff))["addCategory"]
        edit = {"title": "Retitled", "authors": "Someone", "categoryIds": [shelf["id"]]}
        await rec_api.ok(UPDATE, {"b": top["id"], "i": edit}, staff)
        fan = await rec_api.register("fan")
        await rec_api.ok(LIKE, {"b": top["id"]}, fan)
        with engine.begin() as conn:  # around the service, as a hand-made statement would
            conn.execute(
                sa.text("UPDATE book SET title = 'Renamed by hand' WHERE id = :b"),
                {"b": int(because["id"])},
            )

        after = (await other.ok(REC, token=reader))["recommendations"]
        assert _book(after, top["id"]) == {
            "id": top["id"],
            "title": "Retitled",
            "likeCount": top["likeCount"] + 1,
            "categories": [{"name": "Staff Picks"}],
        }
        assert {i["because"]["title"] for i in after if i["because"]} >= {"Renamed by hand"}
        similar = (await other.ok(SIMILAR, {"b": because["id"]}, reader))["similarBooks"]
        for item in similar:  # every book as the database has it now
            with engine.connect() as conn:
                title, likes = conn.execute(
                    sa.text("SELECT title, like_count FROM book WHERE id = :b"),
                    {"b": int(item["book"]["id"])},
                ).one()
            assert (item["book"]["title"], item["book"]["likeCount"]) == (title, likes)

        await rec_api.ok(LIKE, {"b": top["id"]}, reader)  # a like alone: no new generation
        again = (await other.ok(REC, token=reader))["recommendations"]
        if any(item["book"]["id"] == top["id"] for item in again):  # liked: may be excluded
            assert _book(again, top["id"])["likeCount"] == top["likeCount"] + 2
