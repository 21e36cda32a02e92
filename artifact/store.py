"""Model stores: where versions live, which one is CURRENT, publishing and rollback.

`Store` is the interface every store implements (and the behaviour they share: the next
version's name, rollback, the current metrics); two implementations, chosen once by the
composition root (`app.model_store`):

- `DirectoryStore` (also named `ModelStore`, its older name): a local models directory;
- `artifact.db_store.DatabaseStore`: versions as checksummed blobs in the database, which
  every host follows, each materialising versions into its own local cache directory.

A directory store looks like this:

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
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from artifact.errors import ArtifactError
from artifact.manifest import MANIFEST, read_manifest

CURRENT = "CURRENT"
VERSION_PATTERN = re.compile(r"^v\d{4,}$")

# What a version must pass before it may become current (e.g. inference.Recommender.load).
Check = Callable[[Path], Any]


def check_version_name(version: str) -> str:
    if not VERSION_PATTERN.match(version):
        raise ArtifactError(f"{version[:40]!r} is not a version name")
    return version


def version_number(version: str) -> int:
    return int(check_version_name(version)[1:])


def fsync_dir(path: Path) -> None:
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
    fsync_dir(path.parent)


def resolve(path: str | Path) -> Path:
    """An artifact directory, or a models directory meaning its CURRENT version."""
    root = Path(path)
    if (root / MANIFEST).is_file():
        return root
    if (root / CURRENT).is_file():
        version = DirectoryStore(root).current()
        assert version is not None
        target = root / version
        if not target.is_dir():
            raise ArtifactError(f"{root / CURRENT}: points to missing version {version}")
        return target
    raise ArtifactError(
        f"{root}: neither an artifact (no {MANIFEST}) nor a models dir (no {CURRENT})"
    )


class Store(ABC):
    """What training, serving and the CLI need of a model store, whatever keeps the files.

    `path(version)` is always a local directory holding that version complete (a store
    that keeps its files elsewhere materialises them first), so anything that loads a
    named version (`inference.Recommender.load(store.path(v))`) works on every store."""

    kind: str  # "directory" or "database": what /healthz and the CLI say

    @abstractmethod
    def path(self, version: str) -> Path:
        """A local directory holding `version`, checked against its manifest's checksums
        on the way there (ArtifactError if the version is missing or damaged)."""

    @abstractmethod
    def versions(self) -> list[str]:
        """Version names in the order they were made."""

    @abstractmethod
    def current(self) -> str | None:
        """The current version's name (None before the first publish)."""

    @abstractmethod
    def pointer_state(self) -> tuple[str, int] | None:
        """What CURRENT says, raw, and a number that changes whenever it is switched:
        cheap enough to poll every few seconds."""

    @abstractmethod
    def manifest(self, version: str) -> dict[str, Any]:
        """The version's manifest, checked for the keys every artifact has."""

    @abstractmethod
    def new_version(self) -> contextlib.AbstractContextManager[tuple[str, Path]]:
        """(version name, staging directory): fill the directory; when the block ends
        without an error the version is stored whole (never current yet)."""

    @abstractmethod
    def _switch(self, version: str, action: str) -> None:
        """Point CURRENT at `version`, atomically (`action`: "publish" or "rollback")."""

    def close(self) -> None:  # noqa: B027 - most stores hold nothing open
        """Release what the store holds open (the database store's own engine)."""

    def next_version(self) -> str:
        versions = self.versions()
        return f"v{version_number(versions[-1]) + 1 if versions else 1:04d}"

    def current_metrics(self) -> tuple[str | None, dict[str, float] | None]:
        """The current version and its held-out metrics (None if it has none readable)."""
        current = self.current()
        if current is None:
            return None, None
        try:
            return current, self.manifest(current)["metrics"]
        except ArtifactError:
            return current, None

    def publish(self, version: str, check: Check) -> None:
        """Make `version` current, after it passed `check` (the switch is atomic)."""
        self._publish(version, check, "publish")

    def _publish(self, version: str, check: Check, action: str) -> None:
        check_version_name(version)
        check(self.path(version))  # refuses a broken artifact before pointing to it
        self._switch(version, action)

    def rollback(self, check: Check) -> str:
        """Point CURRENT at the newest version older than the current one that passes
        `check`; return it."""
        current = self.current()
        if current is None:
            raise ArtifactError(f"{self}: no current version to roll back from")
        older = [v for v in self.versions() if version_number(v) < version_number(current)]
        problems = []
        for version in reversed(older):
            try:
                self._publish(version, check, "rollback")
                return version
            except ArtifactError as exc:
                problems.append(str(exc))
        detail = "; ".join(problems) if problems else "none exists"
        raise ArtifactError(f"{self}: no valid version older than {current} ({detail})")


class DirectoryStore(Store):
    """A local models directory (the default; one machine, or a directory every host mounts)."""

    kind = "directory"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def __str__(self) -> str:
        return str(self.root)

    def path(self, version: str) -> Path:
        return self.root / version

    def versions(self) -> list[str]:
        if not self.root.is_dir():
            return []
        names = [
            p.name for p in self.root.iterdir() if p.is_dir() and VERSION_PATTERN.match(p.name)
        ]
        return sorted(names, key=version_number)

    def current(self) -> str | None:
        pointer = self.root / CURRENT
        if not pointer.is_file():
            return None
        name = pointer.read_text(encoding="utf-8").strip()
        if not VERSION_PATTERN.match(name):
            raise ArtifactError(f"{pointer}: does not name a version ({name[:40]!r})")
        return name

    def pointer_state(self) -> tuple[str, int] | None:
        pointer = self.root / CURRENT
        try:
            return pointer.read_text(encoding="utf-8").strip(), pointer.stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def manifest(self, version: str) -> dict[str, Any]:
        return read_manifest(self.path(version))

    @contextlib.contextmanager
    def new_version(self) -> Iterator[tuple[str, Path]]:
        self.root.mkdir(parents=True, exist_ok=True)
        version = self.next_version()
        staging = Path(tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=self.root))
        try:
            yield version, staging
            staging.chmod(0o755)  # mkdtemp makes it private
            os.replace(staging, self.path(version))
            fsync_dir(self.root)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def _switch(self, version: str, action: str) -> None:
        write_text_atomic(self.root / CURRENT, version + "\n")


# The directory store's older name, kept for the code and tests that construct one from a path.
ModelStore = DirectoryStore
