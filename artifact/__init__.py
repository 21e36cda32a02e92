"""The model artifact, used by both sides: training writes it, serving reads it.

The only package that reads or writes `manifest.json` and the `CURRENT` pointer: the manifest
format and checksums (`manifest`), versions, publishing and rollback (`store`: the `Store`
interface and the directory store; `db_store`: the database store, over rows it is given),
and the promotion gate (`gate`). Only the standard library here: the server imports it without the
training extra, and nothing here imports the inference or training layers (a caller that
publishes passes the check a version must pass, e.g. `inference.Recommender.load`).
"""

from artifact.errors import ArtifactError
from artifact.gate import GateDecision, judge
from artifact.manifest import (
    MANIFEST,
    SCHEMA_VERSION,
    read_manifest,
    verify_checksums,
    write_manifest,
)
from artifact.store import CURRENT, DirectoryStore, ModelStore, Store, resolve

__all__ = [
    "CURRENT",
    "MANIFEST",
    "SCHEMA_VERSION",
    "ArtifactError",
    "DirectoryStore",
    "GateDecision",
    "ModelStore",
    "Store",
    "judge",
    "read_manifest",
    "resolve",
    "verify_checksums",
    "write_manifest",
]
