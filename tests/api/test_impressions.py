"""Impressions: every list served (recommendations and similarBooks) is recorded with its
variant, off the request path; the buffer is bounded (drops counted), a clean shutdown
writes it, and recording can be switched off (to measure what it costs)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from app.asgi import create_app
from tests.support.api import Api, login_as, make_settings
from tests.support.tiny_catalog import populate

RECS = "query($n: Int!) { recommendations(first: $n) { listId book { id } } }"
MORE = "query($l: String!) { recommendations(first: 2, after: $l) { listId book { id } } }"
SIMILAR = '{ similarBooks(bookId: "2", first: 3) { listId book { id } } }'


@contextlib.asynccontextmanager
async def started(engine: sa.Engine, database_url: str, **overrides: Any) -> AsyncIterator[Api]:
    app = create_app(make_settings(database_url, **overrides), engine)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            api = Api(client)
            api.app = app  # type: ignore[attr-defined]
            yield api


def stored(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT l.kind, l.user_id, l.variant, l.model_version, count(i.position)"
                " FROM rec_list l JOIN rec_list_item i ON i.list_id = l.id"
                " GROUP BY l.id, l.kind, l.user_id, l.variant, l.model_version ORDER BY l.kind"
            )
        ).all()


async def test_a_clean_shutdown_writes_every_buffered_list(
    engine: sa.Engine, database_url: str, model_dir: Path
) -> None:
    populate(engine)
    async with started(engine, database_url, model_dir=model_dir, list_flush_seconds=600) as api:
        token = await login_as(api, engine, 5)
        await api.ok(RECS, {"n": 4}, token)
        await api.ok(SIMILAR)
        assert stored(engine) == []  # still buffered: the writer waits 600 s
        health = (await api.client.get("/healthz")).json()
        assert health["lists"] == {"pending": 7, "written": 0, "dropped": 0}
    assert stored(engine) == [
        ("recommendations", 5, "control", "v0002", 4),
        ("similar", None, "control", "v0002", 3),
    ]


async def test_the_buffer_is_bounded_and_drops_are_counted(
    engine: sa.Engine, database_url: str, model_dir: Path
) -> None:
    populate(engine)
    settings = {"model_dir": model_dir, "list_flush_seconds": 600, "list_buffer_positions": 100}
    async with started(engine, database_url, **settings) as api:
        token = await login_as(api, engine, 5)
        for _ in range(8):  # 8 lists of the 16 books left: six fit in 100, two are dropped
            assert len((await api.ok(RECS, {"n": 20}, token))["recommendations"]) == 16
        recorder = api.app.state.services.recommendations.recorder  # type: ignore[attr-defined]
        assert (recorder.depth, recorder.dropped) == (96, 2)
    assert len(stored(engine)) == 6


async def test_recording_can_be_switched_off(
    engine: sa.Engine, database_url: str, model_dir: Path
) -> None:
    populate(engine)
    async with started(engine, database_url, model_dir=model_dir, record_lists=False) as api:
        token = await login_as(api, engine, 5)
        items = (await api.ok(RECS, {"n": 4}, token))["recommendations"]
        assert len(items) == 4
        error = await api.error(MORE, {"l": items[0]["listId"]}, token)
        assert error["extensions"]["code"] == "NOT_FOUND"  # nothing recorded to continue
    assert stored(engine) == []
