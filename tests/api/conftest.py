"""The API suite's fixtures for recommendations: the tiny two-taste catalog served with a
real model (trained once per test session, see tests/conftest.py: trained_models)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from app.asgi import create_app
from tests.support.api import Api, make_settings
from tests.support.artifacts import publish
from tests.support.tiny_catalog import populate


@pytest.fixture
def model_dir(trained_models: tuple[str, Path], tmp_path: Path) -> Path:
    target = tmp_path / "models"
    shutil.copytree(trained_models[1], target)
    publish(target, "v0002")
    return target


@pytest.fixture
async def rec_api(engine: sa.Engine, database_url: str, model_dir: Path) -> AsyncIterator[Api]:
    populate(engine)
    settings = make_settings(database_url, model_dir=model_dir, model_poll_seconds=0.05)
    app = create_app(settings, engine)
    async with app.router.lifespan_context(app):  # loads the model, follows CURRENT
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client)
