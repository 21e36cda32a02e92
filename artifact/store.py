"""A models directory: one subdirectory per version, and the CURRENT pointer.

    model_dir/
      CURRENT            the current version's name (switched atomically, last)
      v0001/ v0002/ ...  one directory per trained model (written as .tmp-*, then renamed)

A version is written complete under a temporary name and renamed into place; CURRENT is
switched last, by an atomic rename, and only to a version that passed the caller's check.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from artifact.errors import ArtifactError
from artifact.manifest import MANIFEST, read_manifest

CURRENT = "CURRENT"
VERSION_PATTERN = re.compile(r"^v\d{4,}$")

# What a version must pass before it may become current (e.g. inference.Recommender.load).
Check = Callable[[Path], Any]


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


def resolve(path: str | Path) -> Path:
    """An artifact directory, or a models directory meaning its CURRENT version."""
    root = Path(path)
    if (root / MANIFEST).is_file():
        return root
    if (root / CURRENT).is_file():
        version = ModelStore(root).current()
        assert version is not None
        target = root / version
        if not target.is_dir():
            raise ArtifactError(f"{root / CURRENT}: points to missing version {version}")
        return target
    raise ArtifactError(
        f"{root}: neither an artifact (no {MANIFEST}) nor a models dir (no {CURRENT})"
    )


class ModelStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, version: str) -> Path:
        return self.root / version

    def versions(self) -> list[str]:
        """Version names in the order they were made."""
        if not self.root.is_dir():
            return []
        names = [
            p.name for p in self.root.iterdir() if p.is_dir() and VERSION_PATTERN.match(p.name)
        ]
        return sorted(names, key=lambda n: int(n[1:]))

    def next_version(self) -> str:
        versions = self.versions()
        return f"v{int(versions[-1][1:]) + 1 if versions else 1:04d}"

    def current(self) -> str | None:
        pointer = self.root / CURRENT
        if not pointer.is_file():
            return None
        name = pointer.read_text(encoding="utf-8").strip()
        if not VERSION_PATTERN.match(name):
            raise ArtifactError(f"{pointer}: does not name a version ({name[:40]!r})")
        return name

    def pointer_state(self) -> tuple[str, int] | None:
        """What CURRENT says, raw, and when it was last switched: cheap enough to poll."""
        pointer = self.root / CURRENT
        try:
            return pointer.read_text(encoding="utf-8").strip(), pointer.stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def manifest(self, version: str) -> dict[str, Any]:
        return read_manifest(self.path(version))

    def current_metrics(self) -> tuple[str | None, dict[str, float] | None]:
        """The current version and its held-out metrics (None if it has none readable)."""
        current = self.current()
        if current is None:
            return None, None
        try:
            return current, self.manifest(current)["metrics"]
        except ArtifactError:
            return current, None

    @contextlib.contextmanager
    def new_version(self) -> Iterator[tuple[str, Path]]:
        """(version name, staging directory): fill the directory; when the block ends
        without an error it is renamed into place as that version (never current yet)."""
        self.root.mkdir(parents=True, exist_ok=True)
        version = self.next_version()
        staging = Path(tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=self.root))
        try:
            yield version, staging
            staging.chmod(0o755)  # mkdtemp makes it private
            os.replace(staging, self.path(version))
            _fsync_dir(self.root)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def publish(self, version: str, check: Check) -> None:
        """Make `version` current, after it passed `check` (the switch is atomic)."""
        if not VERSION_PATTERN.match(version):
            raise ArtifactError(f"{version!r} is not a version name")
        check(self.path(version))  # refuses a broken artifact before pointing to it
        write_text_atomic(self.root / CURRENT, version + "\n")

    def rollback(self, check: Check) -> str:
        """Point CURRENT at the newest version older than the current one that passes
        `check`; return it."""
        current = self.current()
        if current is None:
            raise ArtifactError(f"{self.root}: no current version to roll back from")
        older = [v for v in self.versions() if int(v[1:]) < int(current[1:])]
        problems = []
        for version in reversed(older):
            try:
                self.publish(version, check)
                return version
            except ArtifactError as exc:
                problems.append(str(exc))
        detail = "; ".join(problems) if problems else "none exists"
        raise ArtifactError(f"{self.root}: no valid version older than {current} ({detail})")
