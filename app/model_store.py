"""The model store, chosen once from the settings: the local models directory, or the
database every host follows (with a local cache of the versions this host loaded)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from app.settings import Settings
from artifact import DirectoryStore, Store
from artifact.db_store import DatabaseStore
from db.engine import make_engine
from db.model_blobs import ModelBlobs


def build_model_store(settings: Settings, engine: Engine | None = None) -> Store:
    """`engine`: the process's engine, if it has one (the database store reuses it; else
    it makes one of its own, disposed of by the store's `close()`)."""
    if settings.model_store == "database":
        if engine is not None:
            blobs = ModelBlobs(engine)
        else:
            blobs = ModelBlobs(make_engine(settings.database_url), owns_engine=True)
        return DatabaseStore(blobs, settings.model_cache_dir)
    return DirectoryStore(settings.model_dir)
