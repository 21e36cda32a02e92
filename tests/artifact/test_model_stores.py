"""Both model stores behave the same: versions, staging, publish after a check, CURRENT,
rollback, refusing damaged versions. The database store runs on SQLite and PostgreSQL;
what only it has (several hosts with their own caches, damaged blobs, a database that
cannot be reached, the switch history) is tested below the shared tests."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from artifact import ArtifactError, DirectoryStore, Store
from artifact import db_store as db_store_module
from artifact.db_store import DatabaseStore
from db.engine import make_engine
from inference import Recommender
from inference.live import LiveModel

pytest.importorskip("onnx")
from tests.support.artifacts import build_artifact
from tests.support.model_stores import DB_BACKENDS, STORES, Host, add, migrated_database


@pytest.fixture(params=DB_BACKENDS)
def hosts(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[Host]]:
    """Two hosts on one migrated database: say, a trainer and a server."""
    with migrated_database(request.param, tmp_path) as url:
        made = [Host(url, tmp_path / f"cache-{i}") for i in (1, 2)]
        try:
            yield made
        finally:
            for host in made:
                host.close()


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "directory":
        yield DirectoryStore(tmp_path / "models")
        return
    with migrated_database(request.param.removeprefix("database-"), tmp_path) as url:
        host = Host(url, tmp_path / "cache")
        try:
            yield host.store
        finally:
            host.close()


# ------------------------------------------------------------------ both stores


def test_an_empty_store(store: Store) -> None:
    assert store.versions() == [] and store.current() is None
    assert store.pointer_state() is None and store.next_version() == "v0001"
    with pytest.raises(ArtifactError, match="no current version"):
        store.rollback(check=Recommender.load)


def test_a_new_version_is_stored_whole_but_not_current(store: Store) -> None:
    first = add(store, seed=1)
    assert first == "v0001" and store.versions() == ["v0001"] and store.current() is None
    assert store.manifest("v0001")["version"] == "v0001"
    assert Recommender.load(store.path("v0001")).version == "v0001"
    assert store.next_version() == "v0002"


def test_a_failed_staging_stores_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.new_version() as (_, staging):
        build_artifact(staging, version="v0001")
        raise RuntimeError("training failed half-way")
    assert store.versions() == []


def test_publish_switches_current_after_the_check(store: Store) -> None:
    add(store, seed=1)
    add(store, seed=2)
    store.publish("v0001", check=Recommender.load)
    state = store.pointer_state()
    assert store.current() == "v0001" and state is not None and state[0] == "v0001"
    store.publish("v0002", check=Recommender.load)
    assert store.current() == "v0002" and store.pointer_state() != state
    assert store.current_metrics()[0] == "v0002"


def test_a_version_failing_the_check_never_becomes_current(store: Store) -> None:
    add(store, seed=1)
    store.publish("v0001", check=Recommender.load)
    add(store, seed=2, nan_user=0)  # stored, but the smoke run refuses it
    with pytest.raises(ArtifactError, match="smoke run"):
        store.publish("v0002", check=Recommender.load)
    with pytest.raises(ArtifactError, match="not a version name"):
        store.publish("../v0001", check=Recommender.load)
    with pytest.raises(ArtifactError, match="v0009"):
        store.publish("v0009", check=Recommender.load)
    assert store.current() == "v0001"


def test_a_file_that_does_not_match_its_checksum_never_becomes_current(store: Store) -> None:
    """The directory store finds it when publishing; the database store as it stores it."""
    add(store, seed=1)
    store.publish("v0001", check=Recommender.load)
    with pytest.raises(ArtifactError, match=r"book_factors\.npy: sha256 mismatch"):
        with store.new_version() as (version, staging):
            build_artifact(staging, seed=2, version=version)
            data = bytearray((staging / "book_factors.npy").read_bytes())
            data[-1] ^= 0xFF
            (staging / "book_factors.npy").write_bytes(bytes(data))
        store.publish(version, check=Recommender.load)
    assert store.current() == "v0001"


def test_rollback_takes_the_newest_older_version_that_passes(store: Store) -> None:
    add(store, seed=1)
    add(store, seed=2, nan_user=0)
    add(store, seed=3)
    store.publish("v0003", check=Recommender.load)
    assert store.rollback(check=Recommender.load) == "v0001"  # v0002 fails its smoke run
    assert store.current() == "v0001"
    with pytest.raises(ArtifactError, match="no valid version older than v0001"):
        store.rollback(check=Recommender.load)
    assert store.current() == "v0001"


def test_publishing_again_moves_the_pointer_state(store: Store) -> None:
    """A server that saw v1 -> v2 -> v1 must notice the last switch too."""
    add(store, seed=1)
    add(store, seed=2)
    store.publish("v0001", check=Recommender.load)
    seen = {store.pointer_state()}
    store.publish("v0002", check=Recommender.load)
    seen.add(store.pointer_state())
    store.rollback(check=Recommender.load)
    seen.add(store.pointer_state())
    assert len(seen) == 3


# ------------------------------------------------------------------ the database store


def test_every_host_follows_a_publish_and_a_late_host_catches_up(hosts: list[Host]) -> None:
    trainer, server = hosts
    add(trainer.store, seed=1)
    trainer.store.publish("v0001", check=Recommender.load)
    live = LiveModel(server.store)
    assert live.refresh() and live.status()["version"] == "v0001"
    assert live.status()["store"] == "database"
    add(trainer.store, seed=2)
    trainer.store.publish("v0002", check=Recommender.load)
    assert live.refresh() and live.status()["version"] == "v0002"
    assert (server.store.cache_dir / "v0002" / "manifest.json").is_file()
    # a host that was down for both publishes starts with the current one
    late = LiveModel(DatabaseStore(server.store.blobs, server.store.cache_dir.parent / "late"))
    assert late.refresh() and late.status()["version"] == "v0002"


def test_a_damaged_blob_is_refused_and_the_old_model_keeps_serving(hosts: list[Host]) -> None:
    trainer, server = hosts
    add(trainer.store, seed=1)
    trainer.store.publish("v0001", check=Recommender.load)
    live = LiveModel(server.store)
    assert live.refresh()
    add(trainer.store, seed=2)
    trainer.store.publish("v0002", check=Recommender.load)  # checked from its own cache
    with trainer.engine.begin() as conn:  # the blob damaged in the database afterwards
        data = conn.execute(
            sa.text(
                "SELECT data FROM model_blob WHERE version = 'v0002' AND name = 'score_user.onnx'"
            )
        ).scalar_one()
        conn.execute(
            sa.text(
                "UPDATE model_blob SET data = :d "
                "WHERE version = 'v0002' AND name = 'score_user.onnx'"
            ),
            {"d": bytes(data)[:-1] + bytes([data[-1] ^ 0xFF])},
        )
    assert not live.refresh()
    status = live.status()
    assert status["version"] == "v0001"
    assert status["refused"]["version"] == "v0002"
    assert "v0002/score_user.onnx: damaged" in status["refused"]["reason"]
    assert "sha256 mismatch" in status["refused"]["reason"]
    assert sorted(p.name for p in server.store.cache_dir.iterdir()) == ["v0001"]  # no leftovers


def test_an_unreachable_database_keeps_the_model_and_is_tried_again(
    hosts: list[Host], tmp_path: Path
) -> None:
    trainer, server = hosts
    add(trainer.store, seed=1)
    trainer.store.publish("v0001", check=Recommender.load)
    live = LiveModel(server.store)
    assert live.refresh()
    add(trainer.store, seed=2)
    trainer.store.publish("v0002", check=Recommender.load)
    working = server.store.blobs.engine  # type: ignore[attr-defined]
    broken = make_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}")
    server.store.blobs.engine = broken  # type: ignore[attr-defined]
    try:
        assert not live.refresh()
        assert live.status()["version"] == "v0001" and live.status()["refused"] is None
    finally:
        server.store.blobs.engine = working  # type: ignore[attr-defined]
        broken.dispose()
    assert live.refresh() and live.status()["version"] == "v0002"


def test_files_are_stored_in_parts_and_read_back_exactly(
    hosts: list[Host], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_store_module, "CHUNK_BYTES", 100)
    trainer, server = hosts
    add(trainer.store, seed=1)
    with trainer.engine.connect() as conn:
        parts = conn.execute(
            sa.text("SELECT parts, size FROM model_file WHERE name = 'score_user.onnx'")
        ).one()
    assert parts.parts == -(-parts.size // 100) > 1
    original = trainer.store.cache_dir / "v0001"
    copy = server.store.path("v0001")
    for path in original.iterdir():
        assert (copy / path.name).read_bytes() == path.read_bytes()


def test_a_file_the_manifest_does_not_cover_is_not_stored(hosts: list[Host]) -> None:
    trainer, _ = hosts
    refused = pytest.raises(ArtifactError, match=r"notes\.txt not covered by a checksum")
    with refused, trainer.store.new_version() as (version, staging):
        build_artifact(staging, version=version)
        (staging / "notes.txt").write_text("unchecked")
    assert trainer.store.versions() == []
    assert not any(trainer.store.cache_dir.iterdir())


def test_the_history_records_every_switch(hosts: list[Host]) -> None:
    trainer, _ = hosts
    add(trainer.store, seed=1)
    add(trainer.store, seed=2)
    trainer.store.publish("v0001", check=Recommender.load)
    trainer.store.publish("v0002", check=Recommender.load)
    trainer.store.rollback(check=Recommender.load)
    assert trainer.store.pointer_state() == ("v0001", 3)
    history = [(s.sequence, s.version, s.previous, s.action) for s in trainer.store.history()]
    assert history == [
        (3, "v0001", "v0002", "rollback"),
        (2, "v0002", "v0001", "publish"),
        (1, "v0001", None, "publish"),
    ]


def test_a_damaged_manifest_blob_is_refused(hosts: list[Host]) -> None:
    trainer, server = hosts
    add(trainer.store, seed=1)
    with trainer.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE model_blob SET data = :d WHERE name = 'manifest.json'"),
            {"d": json.dumps({"version": "v0001"}).encode()},
        )
    with pytest.raises(ArtifactError, match=r"v0001/manifest\.json: damaged"):
        server.store.manifest("v0001")
    with pytest.raises(ArtifactError, match=r"v0001/manifest\.json: damaged"):
        server.store.path("v0001")
    shutil.rmtree(server.store.cache_dir, ignore_errors=True)


def test_the_cache_keeps_the_newest_versions_and_fetches_others_again(hosts: list[Host]) -> None:
    trainer, server = hosts
    for seed in range(1, 6):
        add(trainer.store, seed=seed)
    stale = server.store.cache_dir / ".tmp-v0009-died"
    stale.mkdir(parents=True)
    os.utime(stale, (1, 1))  # left by a process that died mid-copy long ago
    for version in ("v0001", "v0002", "v0003", "v0004", "v0005"):
        server.store.path(version)
    cached = sorted(p.name for p in server.store.cache_dir.iterdir())
    assert cached == ["v0003", "v0004", "v0005"]
    assert len(list(trainer.store.cache_dir.iterdir())) == 3  # the trainer's cache too
    again = server.store.path("v0001")  # rolled back to, say: fetched and checked again
    assert Recommender.load(again).version == "v0001"
    # the newest three, and the one just asked for
    assert sorted(p.name for p in server.store.cache_dir.iterdir()) == [
        "v0001",
        "v0003",
        "v0004",
        "v0005",
    ]
