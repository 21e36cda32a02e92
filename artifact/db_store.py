"""The database model store: every version's files as blobs in the database, which all
hosts share, and CURRENT as a row with a sequence number that only grows.

Nothing here knows SQL: the rows are reached through `Blobs` (implemented by
`db.model_blobs.ModelBlobs`, wired by `app.model_store`). What this module adds is what makes
the blobs an artifact store:

- on the way in, a staged version must pass its manifest's checksums (and hold no file the
  manifest does not cover); each file is hashed again while it is streamed into the
  database, and the whole version is written in one transaction (all of it, or nothing);
- on the way out (`path`), each file is hashed while it is written into a private
  directory of the local cache and compared with the sha256 recorded beside the blob and
  with the manifest's; only a complete, matching version is renamed into place, so a
  cached version is always whole. A damaged blob is refused with an ArtifactError naming
  the file, and a server keeps the model it has.

    cache_dir/
      v0003/ v0004/ ...  versions this host has loaded (written as .tmp-*, then renamed)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from artifact.errors import ArtifactError
from artifact.manifest import MANIFEST, parse_manifest, read_manifest, verify_checksums
from artifact.store import (
    VERSION_PATTERN,
    Store,
    check_version_name,
    fsync_dir,
    version_number,
)

CHUNK_BYTES = 4 << 20  # a blob is stored in parts of this size: bounded memory both ways
CACHED_VERSIONS = 3  # the cache keeps this host's newest versions; older ones are fetched again
STALE_STAGING_SECONDS = 3600  # a .tmp-* this old was left by a process that died mid-copy


class StoredFile(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def size(self) -> int: ...


@dataclass(frozen=True)
class Upload:
    name: str
    sha256: str
    size: int
    chunks: Iterable[bytes]  # raises (and so aborts the transaction) if the bytes differ


class Switch(Protocol):
    @property
    def sequence(self) -> int: ...
    @property
    def version(self) -> str: ...
    @property
    def previous(self) -> str | None: ...
    @property
    def action(self) -> str: ...
    @property
    def at(self) -> str: ...


class Blobs(Protocol):
    """The rows behind a DatabaseStore (`db.model_blobs.ModelBlobs`)."""

    def version_names(self) -> list[str]: ...

    def add_version(self, version: str, number: int, files: Iterable[Upload]) -> None:
        """All of the version's rows in one transaction."""

    def files(self, version: str) -> Sequence[StoredFile] | None:
        """None if there is no such version."""

    def chunks(self, version: str, name: str) -> Iterator[bytes]: ...

    def pointer(self) -> tuple[str, int] | None:
        """(version, sequence) of CURRENT; None before the first publish."""

    def switch(self, version: str, action: str) -> int:
        """Point CURRENT at `version` and record it in the history, in one transaction;
        the new sequence number."""

    def history(self, limit: int) -> Sequence[Switch]: ...

    def close(self) -> None: ...


class DatabaseStore(Store):
    kind = "database"

    def __init__(self, blobs: Blobs, cache_dir: str | Path) -> None:
        self.blobs = blobs
        self.cache_dir = Path(cache_dir)

    def __str__(self) -> str:
        return f"the database model store (local cache {self.cache_dir})"

    def close(self) -> None:
        self.blobs.close()

    # ------------------------------------------------------------------ reading

    def versions(self) -> list[str]:
        names = [n for n in self.blobs.version_names() if VERSION_PATTERN.match(n)]
        return sorted(names, key=version_number)

    def current(self) -> str | None:
        state = self.blobs.pointer()
        if state is None:
            return None
        if not VERSION_PATTERN.match(state[0]):
            raise ArtifactError(f"{self}: CURRENT does not name a version ({state[0][:40]!r})")
        return state[0]

    def pointer_state(self) -> tuple[str, int] | None:
        return self.blobs.pointer()

    def history(self, limit: int = 20) -> Sequence[Switch]:
        """The latest switches of CURRENT (publish, rollback), newest first."""
        return self.blobs.history(limit)

    def manifest(self, version: str) -> dict[str, Any]:
        check_version_name(version)
        stored = {f.name: f for f in self._files(version)}
        if MANIFEST not in stored:
            raise ArtifactError(f"{version}/{MANIFEST}: manifest missing in {self}")
        data = self._read_verified(version, stored[MANIFEST])
        return parse_manifest(data, f"{version}/{MANIFEST}")

    def path(self, version: str) -> Path:
        """The version in the local cache, materialised from the database the first time."""
        check_version_name(version)
        target = self.cache_dir / version
        if target.is_dir():
            return target  # renamed into place only once complete and checked
        files = self._files(version)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=self.cache_dir))
        try:
            for stored in files:
                self._download(version, stored, staging / stored.name)
            manifest = read_manifest(staging)
            self._check_complete(version, staging, manifest)
            verify_checksums(staging, manifest)
            self._place(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self.prune_cache(keep={version})
        return target

    def prune_cache(self, keep: Collection[str] = ()) -> list[str]:
        """Remove cached versions but the newest CACHED_VERSIONS and `keep` (they are in the
        database: a later path() fetches one again), and staging directories left by a
        process that died mid-copy. A model being served is in memory already (and on Linux
        a file stays readable by whoever has it open). Returns what was removed."""
        if not self.cache_dir.is_dir():
            return []
        cached = sorted(
            (
                p.name
                for p in self.cache_dir.iterdir()
                if p.is_dir() and VERSION_PATTERN.match(p.name)
            ),
            key=version_number,
        )
        removed = [v for v in cached[:-CACHED_VERSIONS] if v not in keep]
        for name in removed:
            shutil.rmtree(self.cache_dir / name, ignore_errors=True)
        now = time.time()
        for path in self.cache_dir.glob(".tmp-*"):
            with contextlib.suppress(OSError):
                if now - path.stat().st_mtime > STALE_STAGING_SECONDS:
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path.name)
        return removed

    def _files(self, version: str) -> Sequence[StoredFile]:
        files = self.blobs.files(version)
        if files is None:
            raise ArtifactError(f"{version}: no such version in {self}")
        for stored in files:
            if Path(stored.name).name != stored.name or stored.name.startswith("."):
                raise ArtifactError(f"{version}/{stored.name}: not a plain file name")
        return files

    def _read_verified(self, version: str, stored: StoredFile) -> bytes:
        data = b"".join(self.blobs.chunks(version, stored.name))
        self._compare(version, stored, len(data), hashlib.sha256(data).hexdigest())
        return data

    def _download(self, version: str, stored: StoredFile, path: Path) -> None:
        digest = hashlib.sha256()
        size = 0
        with open(path, "wb") as handle:
            for chunk in self.blobs.chunks(version, stored.name):
                digest.update(chunk)
                size += len(chunk)
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        self._compare(version, stored, size, digest.hexdigest())

    def _compare(self, version: str, stored: StoredFile, size: int, sha256: str) -> None:
        if size != stored.size or sha256 != stored.sha256:
            raise ArtifactError(
                f"{version}/{stored.name}: damaged in {self}: sha256 mismatch "
                f"(recorded {stored.sha256[:12]}… {stored.size} bytes, "
                f"read {sha256[:12]}… {size} bytes)"
            )

    def _place(self, staging: Path, target: Path) -> None:
        staging.chmod(0o755)  # mkdtemp makes it private
        try:
            os.replace(staging, target)
        except OSError:
            if not target.is_dir():
                raise
            shutil.rmtree(staging, ignore_errors=True)  # another process placed it first
        fsync_dir(self.cache_dir)

    # ------------------------------------------------------------------ writing

    @contextlib.contextmanager
    def new_version(self) -> Iterator[tuple[str, Path]]:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        version = self.next_version()
        staging = Path(tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=self.cache_dir))
        try:
            yield version, staging
            self._upload(version, staging)
            self._place(staging, self.cache_dir / version)  # this host has it already
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self.prune_cache(keep={version})

    def _upload(self, version: str, staging: Path) -> None:
        manifest = read_manifest(staging)
        self._check_complete(version, staging, manifest)
        verify_checksums(staging, manifest)
        manifest_path = staging / MANIFEST
        manifest_sha = hashlib.sha256(manifest_path.read_bytes()).hexdigest()
        listed = [(MANIFEST, manifest_sha), *sorted(manifest["files"].items())]
        uploads = [
            Upload(
                name,
                sha,
                (staging / name).stat().st_size,
                _hashed_chunks(staging / name, sha, f"{version}/{name}"),
            )
            for name, sha in listed
        ]
        self.blobs.add_version(version, version_number(version), uploads)

    @staticmethod
    def _check_complete(version: str, directory: Path, manifest: dict[str, Any]) -> None:
        present = {p.name for p in directory.iterdir()} - {MANIFEST}
        unlisted = sorted(present - set(manifest["files"]))
        if unlisted:
            raise ArtifactError(
                f"{version}: {', '.join(unlisted)} not covered by a checksum in the manifest"
            )

    def _switch(self, version: str, action: str) -> None:
        self.blobs.switch(version, action)


def _hashed_chunks(path: Path, expected: str, where: str) -> Iterator[bytes]:
    """The file's bytes in parts, hashed on the way; a mismatch at the end raises, so the
    transaction writing them rolls back."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
            yield chunk
    if digest.hexdigest() != expected:
        raise ArtifactError(f"{where}: changed while it was stored (sha256 mismatch)")
