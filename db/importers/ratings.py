"""Rating files, streamed: read a chunk of lines at a time, check every line, and hand on the
good ratings of the chunk with the refused lines (line number, content, reason).

A rating file may hold millions of lines, so it is never held whole: memory stays bounded by
the chunk size. A chunk of plain numbers (nearly all of them) is parsed by pandas' C parser
and checked with numpy; a chunk in which anything is off is halved until the part holding
the bad line is short, and that part is checked line by line in Python, which finds every
bad line and says what is wrong with it.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
import pandas as pd

from db.importers.errors import fail

DEFAULT_CHUNK_LINES = 200_000
# Lines checked one by one once halving has narrowed a bad line down to a run this short.
CHECKED_LINES = 2_000
# The database's ids are 32-bit integers.
ID_MAX = 2**31 - 1
# datetime's range ends in the year 9999.
TIMESTAMP_MAX = 253_402_300_799
# What pandas' float parser accepts, so both checks agree on what a number is.
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class RatingsLayout:
    """How a dataset writes its ratings."""

    user: str  # column names (from the header, or given by `columns`)
    book: str
    rating: str
    book_label: str  # how messages name a book id ("book_id", "item id")
    books_file: str  # the catalog file book ids must come from
    whole_stars: bool  # 1..5, or 0.5..5 in half steps
    timestamp: str | None = None  # seconds since 1970; without it a rating is dated now
    sep: str = ","
    columns: tuple[str, ...] | None = None  # a file without a header has exactly these

    @property
    def read(self) -> list[str]:
        """The columns read, in the order every chunk's values come in."""
        return [self.user, self.book, self.rating] + ([self.timestamp] if self.timestamp else [])


@dataclass(frozen=True)
class RatingsFile:
    """A dataset's rating file, and the ids of the catalog its books must come from."""

    path: Path
    layout: RatingsLayout
    known_books: np.ndarray  # sorted

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class Refusal:
    file: str
    line: int
    content: str
    reason: str


@dataclass
class RatingChunk:
    """The good ratings of a run of lines (a (reader, book) pair repeated within it keeps
    its first line), and the lines refused."""

    user_id: np.ndarray  # int64
    book_id: np.ndarray
    half_stars: np.ndarray
    timestamps: np.ndarray | None  # int64 seconds, None when the file has none
    valid_lines: int  # good lines, counting repeated pairs
    refused: list[Refusal]
    bytes_read: int

    def in_book_order(self) -> RatingChunk:
        """The same ratings sorted by book (then reader): the index by book, the one that
        grows at random places, is then written in one sweep per chunk instead of at random.
        The order within a chunk means nothing else: it holds no repeated pair."""
        order = np.lexsort((self.user_id, self.book_id))
        return RatingChunk(
            user_id=self.user_id[order],
            book_id=self.book_id[order],
            half_stars=self.half_stars[order],
            timestamps=self.timestamps[order] if self.timestamps is not None else None,
            valid_lines=self.valid_lines,
            refused=self.refused,
            bytes_read=self.bytes_read,
        )


def read_rating_chunks(
    spec: RatingsFile, chunk_lines: int = DEFAULT_CHUNK_LINES
) -> Iterator[RatingChunk]:
    """The file's ratings, `chunk_lines` physical lines at a time (blank lines count)."""
    with open(spec.path, "rb") as stream:
        if spec.layout.columns is None:
            header = stream.readline()
            names = _header(spec, header.removeprefix(_BOM))
            first_line = 2
            bytes_before = len(header)
        else:
            names = list(spec.layout.columns)
            first_line, bytes_before = 1, 0
        positions = [names.index(column) for column in spec.layout.read]
        while lines := list(islice(stream, chunk_lines)):
            if first_line == 1:
                lines[0] = lines[0].removeprefix(_BOM)
            values, refused = _parse(spec, lines, first_line, positions, len(names))
            yield _chunk(
                values,
                has_timestamps=spec.layout.timestamp is not None,
                refused=refused,
                bytes_read=bytes_before + sum(len(line) for line in lines),
            )
            bytes_before = 0
            first_line += len(lines)


def _parse(
    spec: RatingsFile, lines: list[bytes], first_line: int, positions: list[int], expected: int
) -> tuple[np.ndarray, list[Refusal]]:
    """The good lines' values (one row each, in file order) and the refused lines. A run of
    lines with something off is halved until the halves are small, so that only the lines
    near a bad one are checked one by one in Python."""
    values = _fast_values(spec, lines, positions, expected)
    if values is not None:
        return values, []
    if len(lines) <= CHECKED_LINES:
        return _checked_values(spec, lines, first_line, positions, expected)
    half = len(lines) // 2
    head, head_refused = _parse(spec, lines[:half], first_line, positions, expected)
    tail, tail_refused = _parse(spec, lines[half:], first_line + half, positions, expected)
    return np.concatenate([head, tail]), head_refused + tail_refused


def _header(spec: RatingsFile, line: bytes) -> list[str]:
    try:
        text = line.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise fail(spec.name, 1, f"byte 0x{line[exc.start]:02x} is not valid utf-8 text") from None
    names = [c.strip() for c in next(csv.reader([text], delimiter=spec.layout.sep), [])]
    required = spec.layout.read
    missing = [c for c in required if c not in names]
    if not names or missing:
        raise fail(
            spec.name,
            1,
            f"missing column(s) {', '.join(missing or required)}; "
            f"expected a header with {', '.join(required)}",
        )
    return names


def _fast_values(
    spec: RatingsFile, lines: list[bytes], positions: list[int], expected: int
) -> np.ndarray | None:
    """The values if every line is a good rating, else None (`_checked_values` says why)."""
    block = b"".join(lines)
    if not block.isascii() or b'"' in block:
        return None
    raw = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(raw == ord("\n"))
    if not block.endswith(b"\n"):
        ends = np.append(ends, len(block))
    starts = np.concatenate(([0], ends[:-1] + 1))
    separators = np.concatenate(([0], np.cumsum(raw == ord(spec.layout.sep))))
    fields = separators[ends] - separators[starts] + 1
    ends_in_cr = (ends > starts) & (raw[np.maximum(ends - 1, 0)] == ord("\r"))
    blank = ends - starts - ends_in_cr == 0
    if np.any(~blank & (fields != expected)):
        return None
    try:
        frame = pd.read_csv(
            io.BytesIO(block),
            sep=spec.layout.sep,
            header=None,
            names=list(range(expected)),
            usecols=positions,
            dtype=dict.fromkeys(positions, np.float64),
            na_filter=False,
            skip_blank_lines=True,
            quoting=csv.QUOTE_NONE,
            engine="c",
        )
    except (ValueError, pd.errors.ParserError):
        return None
    if len(frame) != int(np.count_nonzero(~blank)):
        return None
    values = [frame[p].to_numpy(dtype=np.float64) for p in positions]
    users, books, stars = values[0], values[1], values[2]
    doubled = stars * 2
    ok = _whole(users, 1, ID_MAX) & _whole(books, 1, ID_MAX)
    if spec.layout.whole_stars:
        ok &= (stars == np.round(stars)) & (stars >= 1) & (stars <= 5)
    else:
        ok &= (doubled == np.round(doubled)) & (stars >= 0.5) & (stars <= 5)
    if spec.layout.timestamp:
        ok &= _whole(values[3], 0, TIMESTAMP_MAX)
    if not ok.all():
        return None
    if not np.isin(books.astype(np.int64), spec.known_books).all():
        return None
    values[2] = doubled
    return np.column_stack(values).astype(np.int64)


def _whole(values: np.ndarray, minimum: int, maximum: int) -> np.ndarray:
    return (
        np.isfinite(values)
        & (values == np.round(values))
        & (values >= minimum)
        & (values <= maximum)
    )


def _checked_values(
    spec: RatingsFile, lines: list[bytes], first_line: int, positions: list[int], expected: int
) -> tuple[np.ndarray, list[Refusal]]:
    """Line by line: every bad line refused with the first thing wrong with it."""
    good: list[tuple[int, ...]] = []
    refused: list[Refusal] = []
    known = set(spec.known_books.tolist())
    for number, raw in enumerate(lines, start=first_line):
        try:
            text = raw.decode("utf-8").rstrip("\n").rstrip("\r")
        except UnicodeDecodeError as exc:
            content = raw.decode("utf-8", errors="backslashreplace").rstrip("\r\n")
            reason = f"byte 0x{raw[exc.start]:02x} is not valid utf-8 text"
            refused.append(Refusal(spec.name, number, content, reason))
            continue
        if not text:
            continue
        checked = _check_line(spec, text, positions, expected, known)
        if isinstance(checked, str):
            refused.append(Refusal(spec.name, number, text, checked))
        else:
            good.append(checked)
    return np.array(good, dtype=np.int64).reshape(len(good), len(positions)), refused


def _check_line(
    spec: RatingsFile, text: str, positions: list[int], expected: int, known: set[int]
) -> tuple[int, ...] | str:
    """(user, book, half-stars[, timestamp]) of a good line, or what is wrong with it."""
    if '"' in text:
        try:
            fields = next(csv.reader([text], delimiter=spec.layout.sep, strict=True))
        except csv.Error as exc:
            return f"malformed CSV ({exc})"
    else:
        fields = text.split(spec.layout.sep)
    if len(fields) != expected:
        return f"expected {expected} fields, found {len(fields)}"
    user = _integer(fields[positions[0]], spec.layout.user, 1, ID_MAX)
    if isinstance(user, str):
        return user
    book = _integer(fields[positions[1]], spec.layout.book, 1, ID_MAX)
    if isinstance(book, str):
        return book
    half_stars = _half_stars(fields[positions[2]], whole_stars=spec.layout.whole_stars)
    if isinstance(half_stars, str):
        return half_stars
    values: tuple[int, ...] = (user, book, half_stars)
    if spec.layout.timestamp:
        stamp = _integer(fields[positions[3]], spec.layout.timestamp, 0, TIMESTAMP_MAX)
        if isinstance(stamp, str):
            return stamp
        values += (stamp,)
    if book not in known:
        return f"{spec.layout.book_label} {book} is not in {spec.layout.books_file}"
    return values


def _integer(raw: str, label: str, minimum: int, maximum: int) -> int | str:
    text = raw.strip()
    if not text:
        return f"{label} is empty"
    value = float(text) if _NUMBER.fullmatch(text) else math.nan
    if not math.isfinite(value) or value != round(value):
        return f"{label} '{text}' is not an integer"
    if value < minimum:
        return f"{label} '{text}' is less than {minimum}"
    if value > maximum:
        return f"{label} '{text}' is greater than {maximum}"
    return int(value)


def _half_stars(raw: str, *, whole_stars: bool) -> int | str:
    text = raw.strip()
    value = float(text) if _NUMBER.fullmatch(text) else math.nan
    if math.isnan(value):
        return f"rating '{text}' is not a number"
    if whole_stars:
        if value == round(value) and 1 <= value <= 5:
            return int(value) * 2
        return f"rating '{text}' is not between 1 and 5"
    if value * 2 == round(value * 2) and 0.5 <= value <= 5:
        return round(value * 2)
    return f"rating '{text}' is not between 0.5 and 5 in half steps"


def _chunk(
    values: np.ndarray, *, has_timestamps: bool, refused: list[Refusal], bytes_read: int
) -> RatingChunk:
    users, books = values[:, 0], values[:, 1]
    # A (reader, book) pair repeated in the chunk keeps its first line; across chunks the
    # database keeps the first one written (ON CONFLICT DO NOTHING).
    _, first = np.unique(users * (ID_MAX + 1) + books, return_index=True)
    kept = values[np.sort(first)] if len(first) < len(values) else values
    return RatingChunk(
        user_id=kept[:, 0],
        book_id=kept[:, 1],
        half_stars=kept[:, 2],
        timestamps=kept[:, 3] if has_timestamps else None,
        valid_lines=len(values),
        refused=refused,
        bytes_read=bytes_read,
    )
