"""The rows of the database model store: versions, their files in parts, CURRENT and its
history. Plain values in and out; the checks that make these rows an artifact store
(checksums, completeness, the local cache) are `artifact.db_store.DatabaseStore`'s."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from db.engine import IMMEDIATE
from db.models import ModelBlobRow, ModelFileRow, ModelPointerRow, ModelSwitchRow, ModelVersionRow
from db.models import utcnow as _utcnow

VERSION = ModelVersionRow.__table__  # type: ignore[attr-defined]
FILE = ModelFileRow.__table__  # type: ignore[attr-defined]
BLOB = ModelBlobRow.__table__  # type: ignore[attr-defined]
POINTER = ModelPointerRow.__table__  # type: ignore[attr-defined]
SWITCH = ModelSwitchRow.__table__  # type: ignore[attr-defined]


class UploadLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def chunks(self) -> Iterable[bytes]: ...


@dataclass(frozen=True)
class FileRow:
    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class SwitchRow:
    sequence: int
    version: str
    previous: str | None
    action: str
    at: str


class ModelBlobs:
    def __init__(self, engine: Engine, owns_engine: bool = False) -> None:
        """`owns_engine`: `close()` disposes of it (else its owner does)."""
        self.engine = engine
        self.owns_engine = owns_engine

    def close(self) -> None:
        if self.owns_engine:
            self.engine.dispose()

    def version_names(self) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(VERSION.c.version).order_by(VERSION.c.number))
            return [r[0] for r in rows]

    def add_version(self, version: str, number: int, files: Iterable[UploadLike]) -> None:
        """One transaction: the version row, then each file's parts as they are read (an
        exception from a file's `chunks` rolls all of it back)."""
        with self.engine.begin() as conn:
            conn.execute(
                VERSION.insert().values(version=version, number=number, created_at=_utcnow())
            )
            for upload in files:
                conn.execute(
                    FILE.insert().values(
                        version=version,
                        name=upload.name,
                        sha256=upload.sha256,
                        size=upload.size,
                        parts=0,
                    )
                )
                parts = 0
                for chunk in upload.chunks:
                    conn.execute(
                        BLOB.insert().values(
                            version=version, name=upload.name, part=parts, data=chunk
                        )
                    )
                    parts += 1
                conn.execute(
                    FILE.update()
                    .where(FILE.c.version == version, FILE.c.name == upload.name)
                    .values(parts=parts)
                )

    def files(self, version: str) -> list[FileRow] | None:
        with self.engine.connect() as conn:
            known = conn.execute(
                sa.select(VERSION.c.version).where(VERSION.c.version == version)
            ).first()
            if known is None:
                return None
            rows = conn.execute(
                sa.select(FILE.c.name, FILE.c.sha256, FILE.c.size)
                .where(FILE.c.version == version)
                .order_by(FILE.c.name)
            )
            return [FileRow(r.name, r.sha256, int(r.size)) for r in rows]

    def chunks(self, version: str, name: str) -> Iterator[bytes]:
        """The file's parts in order, one statement per part (one part in memory)."""
        with self.engine.connect() as conn:
            parts = conn.execute(
                sa.select(FILE.c.parts).where(FILE.c.version == version, FILE.c.name == name)
            ).scalar()
        for part in range(int(parts or 0)):
            with self.engine.connect() as conn:
                data = conn.execute(
                    sa.select(BLOB.c.data).where(
                        BLOB.c.version == version, BLOB.c.name == name, BLOB.c.part == part
                    )
                ).scalar()
            if data is None:
                return  # a missing part: the size and checksum comparison will say so
            yield bytes(data)

    def pointer(self) -> tuple[str, int] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(POINTER.c.version, POINTER.c.sequence).where(POINTER.c.id == 1)
            ).first()
        return None if row is None else (str(row.version), int(row.sequence))

    def switch(self, version: str, action: str) -> int:
        """CURRENT := version, and a history row, in one transaction. Concurrent switches
        are serialised by the pointer row's lock (PostgreSQL: SELECT ... FOR UPDATE;
        SQLite: BEGIN IMMEDIATE), so sequence numbers never repeat."""
        connection = self.engine.connect().execution_options(**{IMMEDIATE: True})
        with connection as conn, conn.begin():
            row = conn.execute(
                sa.select(POINTER.c.version, POINTER.c.sequence)
                .where(POINTER.c.id == 1)
                .with_for_update()
            ).first()
            now = _utcnow()
            values: dict[str, Any] = {"version": version, "switched_at": now}
            if row is None:
                sequence, previous = 1, None
                # Two first publishes racing: the loser's INSERT fails on the primary
                # key and its transaction rolls back whole (nothing half-written).
                conn.execute(POINTER.insert().values(id=1, sequence=sequence, **values))
            else:
                sequence, previous = int(row.sequence) + 1, str(row.version)
                conn.execute(
                    POINTER.update().where(POINTER.c.id == 1).values(sequence=sequence, **values)
                )
            conn.execute(
                SWITCH.insert().values(
                    sequence=sequence,
                    version=version,
                    previous_version=previous,
                    action=action,
                    at=now,
                )
            )
        return sequence

    def history(self, limit: int) -> list[SwitchRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(SWITCH).order_by(SWITCH.c.sequence.desc()).limit(limit)
            ).all()
        return [
            SwitchRow(r.sequence, r.version, r.previous_version, r.action, r.at.isoformat())
            for r in rows
        ]
