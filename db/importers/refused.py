"""The report of an import with `skip_invalid`: every refused line, with its reason.

CSV with a header: `file,line,reason,content` (`content` is the line as read, without its
line break; bytes that are not valid text are written as \\x.. escapes).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from db.importers.ratings import Refusal

HEADER = ("file", "line", "reason", "content")


def default_report_path(dataset: str) -> Path:
    """A new file in the current directory (the database may be on another machine), named
    for the dataset and the time: `bookrec-refused-goodbooks-20261201T120000Z.csv`."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path.cwd() / f"bookrec-refused-{dataset}-{stamp}.csv"


class RefusedLines:
    """Writes refusals as they are found (there may be millions: none is kept in memory).

    The file is removed again when the import fails: nothing was imported, so nothing was
    refused either.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.count = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        self._writer = csv.writer(self._file, lineterminator="\n")
        self._writer.writerow(HEADER)

    def add(self, refusals: Iterable[Refusal]) -> None:
        for r in refusals:
            self._writer.writerow((r.file, r.line, r.reason, r.content))
            self.count += 1

    def __enter__(self) -> RefusedLines:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._file.close()
        if exc_type is not None:
            self.path.unlink(missing_ok=True)
