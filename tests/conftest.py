"""Shared fixtures. Database tests run on SQLite, and also on PostgreSQL when
BOOKREC_TEST_DATABASE_URL points at a server where that role may create databases."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from db.engine import make_engine, normalize_url
from db.schema_setup import upgrade
from tests.support.api import Api, api_for, seed_small_catalog

PG_URL = os.environ.get("BOOKREC_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A URL of a new, empty database (no tables) on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    assert PG_URL is not None
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"bookrec_t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(normalize_url(PG_URL)).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        try:
            drop_database(admin, name)
        finally:
            admin.dispose()


def drop_database(admin: sa.Engine, name: str, attempts: int = 10) -> None:
    """DROP DATABASE ... WITH (FORCE), which also ends the sessions still connected. A role
    without pg_signal_backend (scripts/postgres.sh grants it) cannot end an autovacuum
    worker busy on the database, and PostgreSQL 15 refuses the drop then: wait, try again."""
    for attempt in range(attempts):
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except sa.exc.ProgrammingError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """A migrated, empty database."""
    upgrade(empty_database_url)
    return empty_database_url


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def trained_models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(database URL, models dir) of the tiny catalog with two real versions of the default
    model, trained with different seeds (v0002 current). Shared: copy before changing."""
    from tests.support.tiny_catalog import create_database
    from training.pipeline import train

    root = tmp_path_factory.mktemp("trained")
    url = f"sqlite:///{root / 'train.db'}"
    create_database(url)
    models = root / "models"
    train(url, models, arch="default", epochs=8, seed=1)
    train(url, models, arch="default", epochs=8, seed=2, force=True)
    yield url, models


@pytest.fixture
def seed_catalog(engine: sa.Engine) -> None:
    """Three categories and five books; book 5 has no category."""
    seed_small_catalog(engine)


@pytest.fixture
async def api(engine: sa.Engine, database_url: str, seed_catalog: None) -> AsyncIterator[Api]:
    """The development app over the seeded catalog, driven through HTTP in process."""
    async with api_for(engine, database_url) as client:
        yield client
