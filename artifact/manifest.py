"""The manifest: what an artifact directory holds, and the checksum of every file in it.

v0001/
  manifest.json    version, arch, hyperparameters, metrics, graphs, arrays, files + sha256
  score_user.onnx  user_index[N] -> scores[N, n_books], stars[N, n_books]
  ...              further graphs and .npy arrays, as the manifest lists them
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from artifact.errors import ArtifactError

MANIFEST = "manifest.json"
SCHEMA_VERSION = 1
REQUIRED_KEYS = {
    "schema_version": int,
    "version": str,
    "created_at": str,
    "arch": str,
    "hyperparameters": dict,
    "frameworks": dict,
    "data_fingerprint": str,
    "metrics": dict,
    "baseline_metrics": dict,
    "rating_scale": list,
    "n_users": int,
    "n_books": int,
    "graphs": dict,
    "files": dict,
}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(artifact_dir: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Record the sha256 of every file in `artifact_dir` and write the manifest beside them
    (the directory is complete by then). Returns the manifest as written."""
    root = Path(artifact_dir)
    manifest = {
        **manifest,
        "files": {
            p.name: sha256_file(p)
            for p in sorted(root.iterdir())
            if p.is_file() and p.name != MANIFEST
        },
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    return manifest


def read_manifest(artifact_dir: Path) -> dict[str, Any]:
    """The manifest, checked for the keys and types every artifact has."""
    path = Path(artifact_dir) / MANIFEST
    if not path.is_file():
        raise ArtifactError(f"{path}: manifest missing")
    return parse_manifest(path.read_bytes(), str(path))


def parse_manifest(data: bytes, where: str) -> dict[str, Any]:
    """A manifest's bytes, checked as `read_manifest` does (`where` names it in errors)."""
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{where}: manifest is not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict):
        raise ArtifactError(f"{where}: manifest is not a JSON object")
    for key, kind in REQUIRED_KEYS.items():
        if key not in manifest:
            raise ArtifactError(f"{where}: manifest lacks required key {key!r}")
        if not isinstance(manifest[key], kind):
            raise ArtifactError(f"{where}: manifest key {key!r} should be a {kind.__name__}")
    if manifest["schema_version"] != SCHEMA_VERSION:
        raise ArtifactError(
            f"{where}: manifest schema_version {manifest['schema_version']} is not {SCHEMA_VERSION}"
        )
    return manifest


def verify_checksums(artifact_dir: Path, manifest: dict[str, Any]) -> None:
    for name, expected in manifest["files"].items():
        path = Path(artifact_dir) / name
        if Path(name).name != name:
            raise ArtifactError(f"{path}: file names in the manifest must be plain names")
        if not path.is_file():
            raise ArtifactError(f"{path}: listed in the manifest but missing")
        actual = sha256_file(path)
        if actual != expected:
            raise ArtifactError(
                f"{path}: sha256 mismatch (manifest {expected[:12]}…, file {actual[:12]}…)"
            )


def listed_file(artifact_dir: Path, manifest: dict[str, Any], name: str) -> Path:
    """The path of a file the manifest lists (and so covers with a checksum)."""
    if name not in manifest["files"]:
        raise ArtifactError(
            f"{Path(artifact_dir) / name}: not covered by a checksum in the manifest"
        )
    return Path(artifact_dir) / name
