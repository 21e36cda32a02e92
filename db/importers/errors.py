"""How an import fails: one exception whose message names the file, the line and the problem."""

from __future__ import annotations


class ImportFailed(Exception):
    """A dataset could not be imported; the message names the file, the line and the problem.

    Nothing of the failed import is left in the database.
    """


def fail(name: str, line: int | None, message: str) -> ImportFailed:
    where = f"{name} line {line}" if line is not None else name
    return ImportFailed(f"{where}: {message}")
