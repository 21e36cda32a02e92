"""Real `bookrec serve` processes on the database model store, each with its own cache
directory (as on separate hosts, with no shared filesystem): a publish reaches both, a
server started after the publish serves it at once, a server that was down during a
publish catches up, and a damaged blob is refused while the old model keeps serving."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from artifact.db_store import DatabaseStore
from db.engine import make_engine
from db.model_blobs import ModelBlobs
from inference import Recommender
from tests.reliability.conftest import server_env
from tests.support.server import Server, bookrec_server

pytestmark = pytest.mark.slow
pytest.importorskip("onnx")  # the hand-made artifacts
from tests.support.model_stores import DB_BACKENDS, add, migrated_database  # noqa: E402


@pytest.fixture(params=DB_BACKENDS)
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, DatabaseStore]]:
    """A migrated database and the trainer's view of its model store (v0001 current)."""
    with migrated_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        store = DatabaseStore(ModelBlobs(engine), tmp_path / "trainer-cache")
        add(store, seed=1)
        store.publish("v0001", check=Recommender.load)
        try:
            yield url, store
        finally:
            engine.dispose()


def host(url: str, tmp_path: Path, name: str) -> Server:
    env = server_env(
        url,
        tmp_path / "unused-models",
        BOOKREC_MODEL_STORE="database",
        BOOKREC_MODEL_CACHE_DIR=str(tmp_path / f"{name}-cache"),
    )
    return bookrec_server(env, tmp_path / f"{name}.log", name=name)


def wait(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def model(server: Server) -> dict[str, Any]:
    return server.health()["model"]  # type: ignore[no-any-return]


def test_hosts_follow_the_database_store(shared: tuple[str, DatabaseStore], tmp_path: Path) -> None:
    url, trainer = shared
    first, second = host(url, tmp_path, "host1"), host(url, tmp_path, "host2")
    first.start()
    try:
        assert model(first)["version"] == "v0001" and model(first)["store"] == "database"
        add(trainer, seed=2)
        trainer.publish("v0002", check=Recommender.load)
        wait(lambda: model(first)["version"] == "v0002", "host1 to serve v0002")
        second.start()  # started after the publish: serves the current version at once
        assert model(second)["version"] == "v0002"

        second.stop()  # down during a publish, then back: catches up by itself
        add(trainer, seed=3)
        trainer.publish("v0003", check=Recommender.load)
        second.start()
        wait(lambda: model(second)["version"] == "v0003", "host2 to catch up")
        wait(lambda: model(first)["version"] == "v0003", "host1 to serve v0003")

        add(trainer, seed=4)  # damaged in the database after it was checked and published
        trainer.publish("v0004", check=Recommender.load)
        with trainer.blobs.engine.begin() as conn:  # type: ignore[attr-defined]
            conn.execute(
                sa.text(
                    "UPDATE model_blob SET data = :d "
                    "WHERE version = 'v0004' AND name = 'book_factors.npy'"
                ),
                {"d": b"\x93NUMPY not what was stored"},
            )
        for server in (first, second):
            # each host either refuses it (its cache never had it) ...
            refused = wait(lambda s=server: model(s)["refused"], "a refusal")
            assert refused["version"] == "v0004"
            assert "v0004/book_factors.npy: damaged" in refused["reason"]
            assert model(server)["version"] == "v0003"  # ... and keeps serving
        assert not (tmp_path / "host1-cache" / "v0004").exists()
    finally:
        first.stop()
        second.stop()
