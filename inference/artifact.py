"""On-disk layout of model artifacts: checksums, manifests, the CURRENT pointer, rollback.

    model_dir/
      CURRENT            text file holding the current version name (switched atomically)
      v0001/ v0002/ ...  one directory per trained model (written as .tmp-*, then renamed)
        manifest.json    version, arch, hyperparameters, metrics, files + sha256, ...
        score_user.onnx  user_index[N] -> scores[N, n_books], stars[N, n_books]
        ...
Only numpy/stdlib here: the server imports it without the training extra.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from .errors import ArtifactError

MANIFEST = "manifest.json"
CURRENT = "CURRENT"
SCHEMA_VERSION = 1
VERSION_PATTERN = re.compile(r"^v\d{4,}$")
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


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def read_manifest(artifact_dir: Path) -> dict[str, Any]:
    path = Path(artifact_dir) / MANIFEST
    if not path.is_file():
        raise ArtifactError(f"{path}: manifest missing")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path}: manifest is not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict):
        raise ArtifactError(f"{path}: manifest is not a JSON object")
    for key, kind in REQUIRED_KEYS.items():
        if key not in manifest:
            raise ArtifactError(f"{path}: manifest lacks required key {key!r}")
        if not isinstance(manifest[key], kind):
            raise ArtifactError(f"{path}: manifest key {key!r} should be a {kind.__name__}")
    if manifest["schema_version"] != SCHEMA_VERSION:
        raise ArtifactError(
            f"{path}: manifest schema_version {manifest['schema_version']} is not {SCHEMA_VERSION}"
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


def list_versions(model_dir: str | Path) -> list[str]:
    """Version directories in chronological order (names sort by creation)."""
    root = Path(model_dir)
    if not root.is_dir():
        return []
    names = [p.name for p in root.iterdir() if p.is_dir() and VERSION_PATTERN.match(p.name)]
    return sorted(names, key=lambda n: int(n[1:]))


def next_version(model_dir: str | Path) -> str:
    versions = list_versions(model_dir)
    number = int(versions[-1][1:]) + 1 if versions else 1
    return f"v{number:04d}"


def current_version(model_dir: str | Path) -> str | None:
    pointer = Path(model_dir) / CURRENT
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    if not VERSION_PATTERN.match(name):
        raise ArtifactError(f"{pointer}: does not name a version ({name[:40]!r})")
    return name


def resolve(path: str | Path) -> Path:
    """An artifact directory, or a models directory meaning its CURRENT version."""
    root = Path(path)
    if (root / MANIFEST).is_file():
        return root
    if (root / CURRENT).is_file():
        version = current_version(root)
        assert version is not None
        target = root / version
        if not target.is_dir():
            raise ArtifactError(f"{root / CURRENT}: points to missing version {version}")
        return target
    raise ArtifactError(
        f"{root}: neither an artifact (no {MANIFEST}) nor a models dir (no {CURRENT})"
    )


def publish_current(model_dir: str | Path, version: str) -> None:
    """Make ``version`` current after checking that it loads (switch is atomic)."""
    from .recommender import Recommender

    root = Path(model_dir)
    if not VERSION_PATTERN.match(version):
        raise ArtifactError(f"{version!r} is not a version name")
    Recommender.load(root / version)  # refuses a broken artifact before pointing to it
    write_text_atomic(root / CURRENT, version + "\n")


def rollback(model_dir: str | Path) -> str:
    """Point CURRENT at the newest valid version older than the current one; return it."""
    root = Path(model_dir)
    current = current_version(root)
    if current is None:
        raise ArtifactError(f"{root}: no current version to roll back from")
    older = [v for v in list_versions(root) if int(v[1:]) < int(current[1:])]
    problems = []
    for version in reversed(older):
        try:
            publish_current(root, version)
            return version
        except ArtifactError as exc:
            problems.append(str(exc))
    detail = "; ".join(problems) if problems else "none exists"
    raise ArtifactError(f"{root}: no valid version older than {current} ({detail})")
