"""Strict reading of a whole delimited file (a catalog: books, tags, movies): every column as
text, and the 1-based file line of every row, so that every later check can name its line.

Rating files, which can hold millions of lines, are streamed instead (`ratings.py`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from db.importers.errors import fail


@dataclass
class Table:
    """A parsed file: every column as text, plus the 1-based file line of each row."""

    name: str
    frame: pd.DataFrame
    lines: np.ndarray  # lines[i] is the file line where row i starts

    def line(self, row: int) -> int:
        return int(self.lines[row])


def read_text(path: Path, encoding: str) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode(
            "utf-8-sig" if encoding.lower().replace("_", "-") == "utf-8" else encoding
        )
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise fail(
            path.name, line, f"byte 0x{raw[exc.start]:02x} is not valid {encoding} text"
        ) from None


def _record_lines_plain(text: str, sep: str, expected: int, name: str) -> np.ndarray:
    """Line numbers of the non-blank lines, checking each has `expected` fields (no quoting)."""
    lines = pd.Series(text.split("\n"), dtype=object)
    stripped = lines.str.rstrip("\r")
    nonblank = (stripped != "").to_numpy()
    counts = stripped.str.count(re.escape(sep)).to_numpy() + 1
    bad = np.flatnonzero(nonblank & (counts != expected))
    if bad.size:
        i = int(bad[0])
        raise fail(name, i + 1, f"expected {expected} fields, found {int(counts[i])}")
    return np.flatnonzero(nonblank) + 1


def _record_lines_quoted(text: str, sep: str, expected: int, name: str) -> np.ndarray:
    """Like `_record_lines_plain`, for files with quoted fields (which may span lines)."""
    starts: list[int] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    previous_end = 0
    try:
        for record in reader:
            start = previous_end + 1
            previous_end = reader.line_num
            if not record:
                continue
            if len(record) != expected:
                raise fail(name, start, f"expected {expected} fields, found {len(record)}")
            starts.append(start)
    except csv.Error as exc:
        raise fail(name, reader.line_num, f"malformed CSV ({exc})") from None
    return np.asarray(starts, dtype=np.int64)


def read_table(
    path: Path,
    *,
    sep: str = ",",
    encoding: str = "utf-8",
    columns: Sequence[str] | None = None,
    required: Sequence[str] = (),
    quoting: bool = True,
) -> Table:
    """Read a delimited file strictly.

    With `columns`, the file has no header and exactly those columns; otherwise the first
    line is the header and must contain every name in `required`. Every row must have as
    many fields as the header (a truncated line is an error, not a row of blanks).
    """
    name = path.name
    text = read_text(path, encoding)
    if columns is None:
        first = next(
            csv.reader(io.StringIO(text.split("\n", 1)[0].rstrip("\r")), delimiter=sep), []
        )
        header = [c.strip() for c in first]
        missing = [c for c in required if c not in header]
        if not header or missing:
            raise fail(
                name,
                1,
                f"missing column(s) {', '.join(missing or required)}; "
                f"expected a header with {', '.join(required)}",
            )
        expected = len(header)
    else:
        header = list(columns)
        expected = len(header)

    if quoting and '"' in text:
        lines = _record_lines_quoted(text, sep, expected, name)
    else:
        lines = _record_lines_plain(text, sep, expected, name)
    if columns is None:
        lines = lines[1:]  # the header

    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=None,
            skiprows=0 if columns is not None else 1,
            names=header,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            quoting=csv.QUOTE_MINIMAL if quoting else csv.QUOTE_NONE,
            engine="c",
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise fail(name, None, f"could not be parsed ({exc})") from None
    if len(frame) != len(lines):
        # Should not happen after the field check; keep line numbers honest if it does.
        start = 1 if columns is not None else 2
        lines = np.arange(start, start + len(frame))
    return Table(name=name, frame=frame, lines=lines)
