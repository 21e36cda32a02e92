"""`bookrec model list / rollback` and the composition root on the database store."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli import main
from app.model_store import build_model_store
from app.settings import Settings
from artifact import DirectoryStore
from artifact.db_store import DatabaseStore
from inference import Recommender

pytest.importorskip("onnx")  # the hand-made artifacts
from tests.support.model_stores import DB_BACKENDS, add, migrated_database


@pytest.mark.parametrize("backend", DB_BACKENDS)
def test_model_list_and_rollback_on_the_database_store(
    backend: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with migrated_database(backend, tmp_path) as url:
        for name, value in {
            "BOOKREC_DATABASE_URL": url,
            "BOOKREC_MODEL_STORE": "database",
            "BOOKREC_MODEL_CACHE_DIR": str(tmp_path / "cli-cache"),
            "BOOKREC_MODEL_DIR": str(tmp_path / "no-models-here"),
            "BOOKREC_SECRET_KEY": "k" * 40,
        }.items():
            monkeypatch.setenv(name, value)
        store = build_model_store(Settings())
        assert isinstance(store, DatabaseStore)
        try:
            add(store, seed=1)
            add(store, seed=2)
            store.publish("v0002", check=Recommender.load)
            main(["model", "list"])
            assert capsys.readouterr().out == "  v0001\n* v0002\n"
            main(["model", "rollback"])
            assert capsys.readouterr().out == "current model is now v0001\n"
            assert store.current() == "v0001"
            assert [s.action for s in store.history()] == ["rollback", "publish"]
            with pytest.raises(SystemExit, match="no valid version older than v0001"):
                main(["model", "rollback"])
        finally:
            store.blobs.engine.dispose()  # type: ignore[attr-defined]
        assert not (tmp_path / "no-models-here").exists()


def test_the_directory_store_is_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BOOKREC_MODEL_STORE", raising=False)
    monkeypatch.setenv("BOOKREC_MODEL_DIR", str(tmp_path / "models"))
    store = build_model_store(Settings())
    assert isinstance(store, DirectoryStore) and store.root == tmp_path / "models"


def test_an_unknown_store_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOOKREC_MODEL_STORE", "s3")
    with pytest.raises(ValueError, match="model_store"):
        Settings()
