"""Model stores for the tests: a migrated database on either backend, one host's view of
the database store (its own engine and cache), hand-made versions added to a store."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from artifact import Store
from artifact.db_store import DatabaseStore
from db.engine import make_engine, normalize_url
from db.model_blobs import ModelBlobs
from db.schema_setup import upgrade
from tests.support.artifacts import build_artifact

PG_URL = os.environ.get("BOOKREC_TEST_DATABASE_URL")
STORES = ["directory", "database-sqlite"] + (["database-postgresql"] if PG_URL else [])


@contextlib.contextmanager
def migrated_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, migrated database on `backend`, dropped afterwards."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
        upgrade(url)
        yield url
        return
    assert PG_URL is not None
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"bookrec_t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(normalize_url(PG_URL)).set(database=name).render_as_string(False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


class Host:
    """One host's view of a database store: its own engine and its own cache directory."""

    def __init__(self, url: str, cache: Path) -> None:
        self.engine = make_engine(url)
        self.store = DatabaseStore(ModelBlobs(self.engine), cache)

    def close(self) -> None:
        self.engine.dispose()


DB_BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def add(store: Store, seed: int, **options: object) -> str:
    """A hand-made artifact stored as the next version (not current)."""
    with store.new_version() as (version, staging):
        build_artifact(staging, seed=seed, version=version, **options)  # type: ignore[arg-type]
    return version
