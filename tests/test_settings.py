from __future__ import annotations

from pathlib import Path

import pytest

from app import settings as settings_module
from app.settings import ConfigError, Settings, load_settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("BOOKREC_DATABASE_URL", "BOOKREC_MODEL_DIR", "BOOKREC_ENV", "BOOKREC_SECRET_KEY"):
        monkeypatch.delenv(var, raising=False)
    s = load_settings()
    assert s.database_url == "sqlite:///./bookrec.db"
    assert s.model_dir == Path("./models")
    assert s.graphiql_enabled and s.introspection_enabled


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOOKREC_DATABASE_URL", "postgresql://u:p@h/db")
    monkeypatch.setenv("BOOKREC_MODEL_DIR", "/srv/models")
    s = load_settings()
    assert s.database_url == "postgresql://u:p@h/db" and s.model_dir == Path("/srv/models")


def test_production_refuses_generated_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOOKREC_ENV", "production")
    monkeypatch.delenv("BOOKREC_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="BOOKREC_SECRET_KEY"):
        load_settings()
    monkeypatch.setenv("BOOKREC_SECRET_KEY", "x" * 40)
    s = load_settings()
    assert not s.graphiql_enabled and not s.introspection_enabled


def test_short_key_refused() -> None:
    with pytest.raises(ConfigError):
        Settings(secret_key="short")


def test_dev_key_is_generated_once_and_shared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings_module, "DEV_KEY_FILE", tmp_path / "key")
    first = Settings(env="development").signing_key()
    assert first == Settings(env="development").signing_key()
    assert (tmp_path / "key").stat().st_mode & 0o077 == 0
