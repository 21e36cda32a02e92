"""Checked conversions of a catalog file's text columns; the first bad row fails the import
with its line. Also the length limits of the database's text columns."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from db.importers.errors import fail
from db.importers.reading import Table

TITLE_MAX = 500
AUTHORS_MAX = 500
ISBN_MAX = 20
URL_MAX = 500
CATEGORY_MAX = 100


def _first_bad(table: Table, mask: np.ndarray) -> int | None:
    bad = np.flatnonzero(mask)
    return int(bad[0]) if bad.size else None


def int_column(
    table: Table,
    column: str,
    *,
    label: str | None = None,
    nullable: bool = False,
    minimum: int | None = None,
) -> pd.Series:
    """Integers (written as `12` or `12.0`); blanks become <NA> only when `nullable`."""
    label = label or column
    text = table.frame[column].astype(object).str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    blank = (text == "").to_numpy()
    values = numbers.to_numpy(dtype=float, na_value=np.nan)
    not_int = np.isnan(values) & ~blank | (~np.isnan(values) & (values != np.round(values)))
    row = _first_bad(table, not_int | (blank & (not nullable)))
    if row is not None:
        raw = text.iloc[row]
        problem = f"{label} is empty" if raw == "" else f"{label} '{raw}' is not an integer"
        raise fail(table.name, table.line(row), problem)
    if minimum is not None:
        row = _first_bad(table, ~np.isnan(values) & (values < minimum))
        if row is not None:
            raise fail(
                table.name, table.line(row), f"{label} '{text.iloc[row]}' is less than {minimum}"
            )
    return pd.Series(values, index=table.frame.index).round().astype("Int64")


def require_unique(table: Table, ids: pd.Series, label: str) -> None:
    dup = ids.duplicated().to_numpy()
    row = _first_bad(table, dup)
    if row is not None:
        raise fail(table.name, table.line(row), f"{label} {ids.iloc[row]} appears twice")


def require_known(
    table: Table, ids: pd.Series, known: Iterable[int], label: str, where: str
) -> None:
    unknown = ~ids.isin(pd.Index(list(known))).to_numpy()
    row = _first_bad(table, unknown)
    if row is not None:
        raise fail(table.name, table.line(row), f"{label} {ids.iloc[row]} is not in {where}")


def clip_text(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def optional_year(values: pd.Series) -> list[int | None]:
    return [None if pd.isna(v) else int(v) for v in values.tolist()]


def check_titles(table: Table, titles: list[str]) -> None:
    for row, title in enumerate(titles):
        if not title:
            raise fail(table.name, table.line(row), "title is empty")
        if len(title) > TITLE_MAX:
            raise fail(table.name, table.line(row), f"title is longer than {TITLE_MAX} characters")
