"""Recommendations through HTTP with a real model: trained with TensorFlow on a tiny
catalog, exported to ONNX, served by onnxruntime, switched live."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import sqlalchemy as sa

from app.asgi import create_app
from artifact import CURRENT
from tests.support.api import Api, login_as, make_settings, rated_by
from tests.support.artifacts import publish
from tests.support.tiny_catalog import FANTASY, MYSTERY, populate

REC = "query($n: Int!) { recommendations(first: $n) { score predictedStars source book { id } because { id } } }"


async def test_model_path_excludes_rated_and_disliked_and_explains(
    rec_api: Api, engine: sa.Engine
) -> None:
    token = await login_as(rec_api, engine, 3)  # a fantasy reader
    await rec_api.ok('mutation { dislikeBook(bookId: "1") { id } }', token=token)
    recs = (await rec_api.ok(REC, {"n": 5}, token))["recommendations"]
    assert len(recs) == 5
    assert {r["source"] for r in recs} == {"MODEL"}
    ids = [r["book"]["id"] for r in recs]
    assert not set(ids) & (rated_by(engine, 3) | {"1"})
    unrated_fantasy = {str(b) for b in FANTASY} - rated_by(engine, 3) - {"1"}
    assert set(ids[: len(unrated_fantasy)]) <= unrated_fantasy | {str(b) for b in MYSTERY}
    assert sum(i in unrated_fantasy for i in ids) >= min(2, len(unrated_fantasy))
    assert [r["score"] for r in recs] == sorted((r["score"] for r in recs), reverse=True)
    for r in recs:
        assert 0.5 <= r["predictedStars"] <= 5
        assert r["because"]["id"] in rated_by(engine, 3)


async def test_because_is_found_however_the_client_asks_for_it(
    rec_api: Api, engine: sa.Engine
) -> None:
    """`because` is only worked out when selected: selected through a fragment, inline or
    aliased, it must still be there; not selected, the list is the same."""
    token = await login_as(rec_api, engine, 3)
    plain = "{ recommendations(first: 5) { book { id } } }"
    asked = [
        "{ recommendations(first: 5) { book { id } ...Why } }"
        " fragment Why on Recommendation { because { id } }",
        "{ recommendations(first: 5) { book { id } ... on Recommendation { because { id } } } }",
        "{ recommendations(first: 5) { book { id } reason: because { id } } }",
    ]
    ids = [r["book"]["id"] for r in (await rec_api.ok(plain, token=token))["recommendations"]]
    for query in asked:
        recs = (await rec_api.ok(query, token=token))["recommendations"]
        assert [r["book"]["id"] for r in recs] == ids
        becauses = [r.get("because") or r.get("reason") for r in recs]
        assert all(b is not None and b["id"] in rated_by(engine, 3) for b in becauses), query


async def test_model_list_is_filled_from_the_fallbacks(rec_api: Api, engine: sa.Engine) -> None:
    token = await login_as(rec_api, engine, 30)
    recs = (await rec_api.ok(REC, {"n": 100}, token))["recommendations"]
    ids = [r["book"]["id"] for r in recs]
    assert len(ids) == len(set(ids)) == 26 - len(rated_by(engine, 30))
    assert {r["source"] for r in recs} == {"MODEL", "POPULAR"}
    assert {r["book"]["id"] for r in recs if r["source"] == "POPULAR"} == {"25", "26"}
    assert all(r["predictedStars"] is None for r in recs if r["source"] == "POPULAR")


async def test_fold_in_for_a_reader_who_signed_up_after_training(
    rec_api: Api, engine: sa.Engine
) -> None:
    token = await rec_api.register("latecomer")
    for book in ("13", "14", "15"):
        await rec_api.ok(
            f'mutation {{ rateBook(bookId: "{book}", stars: 5) {{ stars }} }}', token=token
        )
    recs = (await rec_api.ok(REC, {"n": 5}, token))["recommendations"]
    assert {r["source"] for r in recs} == {"FOLD_IN"}
    ids = [r["book"]["id"] for r in recs]
    assert not set(ids) & {"13", "14", "15"}
    assert sum(int(i) in MYSTERY for i in ids) >= 3  # personalised toward mystery
    assert all(r["because"]["id"] in {"13", "14", "15"} for r in recs)
    assert all(r["predictedStars"] is not None for r in recs)


async def test_category_popular_then_popular_for_a_new_reader(
    rec_api: Api, engine: sa.Engine
) -> None:
    token = await rec_api.register("newbie", categories=["2"])
    recs = (await rec_api.ok(REC, {"n": 15}, token))["recommendations"]
    sources = [r["source"] for r in recs]
    mystery = {str(b) for b in MYSTERY} | {"26"}
    assert sources == ["CATEGORY_POPULAR"] * 13 + ["POPULAR"] * 2
    assert recs[0]["book"]["id"] == "20"  # most liked first
    assert {r["book"]["id"] for r in recs[:13]} == mystery
    assert all(r["because"] is None and r["predictedStars"] is None for r in recs)
    await rec_api.ok('mutation { dislikeBook(bookId: "20") { id } }', token=token)
    recs = (await rec_api.ok(REC, {"n": 15}, token))["recommendations"]
    assert "20" not in {r["book"]["id"] for r in recs}


async def test_popular_for_a_reader_without_categories(rec_api: Api) -> None:
    token = await rec_api.register("blank")
    recs = (await rec_api.ok(REC, {"n": 3}, token))["recommendations"]
    assert [r["source"] for r in recs] == ["POPULAR"] * 3


async def test_recommendations_need_a_signed_in_reader(rec_api: Api) -> None:
    error = await rec_api.error(REC, {"n": 3})
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    token = await rec_api.register("someone")
    for n in (0, 101):
        assert (await rec_api.error(REC, {"n": n}, token))["extensions"]["code"] == "BAD_USER_INPUT"


async def test_similar_books(rec_api: Api) -> None:
    q = "query($b: ID!) { similarBooks(bookId: $b, first: 4) { score source book { id } } }"
    model = (await rec_api.ok(q, {"b": "2"}))["similarBooks"]
    assert [r["source"] for r in model] == ["MODEL"] * 4
    assert "2" not in {r["book"]["id"] for r in model}
    assert sum(int(r["book"]["id"]) in FANTASY for r in model) >= 3
    new = (await rec_api.ok(q, {"b": "25"}))["similarBooks"]
    assert {r["source"] for r in new} == {"CATEGORY_POPULAR"}
    assert all(int(r["book"]["id"]) in FANTASY for r in new)
    assert (await rec_api.error(q, {"b": "999"}))["extensions"]["code"] == "NOT_FOUND"


async def test_model_info(rec_api: Api) -> None:
    info = (
        await rec_api.ok(
            "{ modelInfo { version architecture readersKnown booksKnown createdAt holdoutMetrics baselineMetrics } }"
        )
    )["modelInfo"]
    assert info["version"] == "v0002" and info["architecture"] == "default"
    assert info["readersKnown"] == 40 and info["booksKnown"] == 24
    assert {"rmse", "ndcg@10"} <= set(info["holdoutMetrics"])


async def test_no_model_published_means_popular_and_null_model_info(
    engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    populate(engine)
    settings = make_settings(database_url, model_dir=tmp_path / "none")
    app = create_app(settings, engine)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        api = Api(client)
        assert (await api.ok("{ modelInfo { version } }"))["modelInfo"] is None
        token = await login_as(api, engine, 3)
        recs = (await api.ok(REC, {"n": 3}, token))["recommendations"]
        assert [r["source"] for r in recs] == ["POPULAR"] * 3
        assert not {r["book"]["id"] for r in recs} & rated_by(engine, 3)


async def _wait_for_version(api: Api, version: str) -> None:
    import anyio

    with anyio.fail_after(10):
        while (await api.ok("{ modelInfo { version } }"))["modelInfo"]["version"] != version:
            await anyio.sleep(0.05)


async def test_live_switch_and_rollback(rec_api: Api, model_dir: Path) -> None:
    publish(model_dir, "v0001")
    await _wait_for_version(rec_api, "v0001")
    publish(model_dir, "v0002")
    await _wait_for_version(rec_api, "v0002")


async def test_broken_artifact_is_refused_and_previous_keeps_serving(
    rec_api: Api, model_dir: Path, engine: sa.Engine
) -> None:
    broken = model_dir / "v0003"
    shutil.copytree(model_dir / "v0002", broken)
    onnx_file = next(broken.glob("*.onnx"))
    onnx_file.write_bytes(onnx_file.read_bytes()[: onnx_file.stat().st_size // 2])
    (model_dir / CURRENT).write_text("v0003\n")
    import anyio

    with anyio.fail_after(10):
        while True:
            health = (await rec_api.client.get("/healthz")).json()
            if health["model"]["refused"]:
                break
            await anyio.sleep(0.05)
    assert health["model"]["version"] == "v0002"
    assert health["model"]["refused"]["version"] == "v0003"
    assert "v0003" in health["model"]["refused"]["reason"]
    token = await login_as(rec_api, engine, 3)
    recs = (await rec_api.ok(REC, {"n": 3}, token))["recommendations"]
    assert {r["source"] for r in recs} == {"MODEL"}


async def test_categories_read_with_the_picks_match_the_books_own(
    rec_api: Api, engine: sa.Engine
) -> None:
    """The frontend's shape: categories come with the picks in the same trip; they must be
    what the book itself says (and `because` books still resolve theirs)."""
    token = await login_as(rec_api, engine, 3)
    shape = (
        "{ recommendations(first: 10) { book { id categories { id name } }"
        ' because { id categories { name } } } similarBooks(bookId: "13", first: 3)'
        " { book { id categories { name } } } }"
    )
    data = await rec_api.ok(shape, token=token)
    for item in data["recommendations"] + data["similarBooks"]:
        book = item["book"]
        own = await rec_api.ok(
            "query($id: ID!) { book(id: $id) { categories { id name } } }", {"id": book["id"]}
        )
        assert [c["name"] for c in book["categories"]] == [
            c["name"] for c in own["book"]["categories"]
        ]
    becauses = [r["because"] for r in data["recommendations"] if r["because"]]
    assert becauses and all(b["categories"] for b in becauses)
