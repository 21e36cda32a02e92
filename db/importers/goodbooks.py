"""goodbooks-10k layout: books.csv (required), ratings.csv, book_tags.csv + tags.csv."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from db.importers.columns import (
    AUTHORS_MAX,
    ISBN_MAX,
    URL_MAX,
    check_titles,
    clip_text,
    int_column,
    optional_year,
    require_known,
    require_unique,
)
from db.importers.errors import ImportFailed, fail
from db.importers.ratings import RatingsFile, RatingsLayout
from db.importers.reading import Table, read_table
from db.importers.report import ImportReport
from db.importers.shelves import TOP_SHELVES_PER_BOOK, canonical_shelf, display_name
from db.importers.writing import STRICT, CatalogData, ImportOptions, write_catalog

USER_PREFIX = "goodbooks"
DEMO_DIR = Path(__file__).resolve().parent.parent / "demo_data"

RATINGS = RatingsLayout(
    "user_id", "book_id", "rating", book_label="book_id", books_file="books.csv", whole_stars=True
)

_DIGITS = re.compile(r"^(\d+)(?:\.0*)?$")


def normalize_isbn(raw: str) -> str | None:
    """ISBN as text. goodbooks stores ISBN-10s that went through a float ('439023483',
    '439023483.0'): restore the leading zeros. Scientific notation has lost digits: drop it."""
    value = raw.strip()
    if not value or "e" in value.lower():
        return None
    match = _DIGITS.match(value)
    if match:
        digits = match.group(1)
        value = digits.zfill(10) if len(digits) < 10 else digits
    return value if len(value) <= ISBN_MAX else None


def _books(directory: Path) -> tuple[Table, pd.DataFrame, pd.Series | None]:
    path = directory / "books.csv"
    if not path.is_file():
        raise ImportFailed(
            f"books.csv not found in {directory}: a goodbooks-10k directory holds books.csv "
            "and optionally ratings.csv, book_tags.csv and tags.csv"
        )
    table = read_table(path, required=("book_id", "title", "authors"))
    frame = table.frame
    ids = int_column(table, "book_id", minimum=1)
    require_unique(table, ids, "book_id")

    titles = frame["title"].astype(object).str.strip().tolist()
    check_titles(table, titles)

    def optional_text(column: str) -> list[str]:
        if column not in frame.columns:
            return [""] * len(frame)
        return frame[column].astype(object).str.strip().tolist()

    years = (
        optional_year(int_column(table, "original_publication_year", label="year", nullable=True))
        if "original_publication_year" in frame.columns
        else [None] * len(frame)
    )
    books = pd.DataFrame(
        {
            "id": ids.astype(object).tolist(),
            "title": titles,
            # A few real author lists run past the column; keep the first authors.
            "authors": [clip_text(a, AUTHORS_MAX) for a in optional_text("authors")],
            "year": years,
            "isbn": [normalize_isbn(v) for v in optional_text("isbn")],
            "description": [None] * len(frame),
            "cover_url": [
                u if u and len(u) <= URL_MAX else None for u in optional_text("image_url")
            ],
        },
        dtype=object,
    )
    goodreads = None
    if "goodreads_book_id" in frame.columns:
        goodreads = int_column(table, "goodreads_book_id", minimum=1)
    return table, books, goodreads


def _shelves(
    directory: Path, book_ids: pd.Series, goodreads: pd.Series | None
) -> tuple[list[str], list[tuple[int, str]]]:
    tags_path, book_tags_path = directory / "tags.csv", directory / "book_tags.csv"
    if not tags_path.is_file() and not book_tags_path.is_file():
        return [], []
    for present, other in ((tags_path, book_tags_path), (book_tags_path, tags_path)):
        if not other.is_file():
            raise ImportFailed(f"{present.name} is in {directory} but {other.name} is not")
    if goodreads is None:
        raise fail("books.csv", 1, "missing column goodreads_book_id (needed for book_tags.csv)")

    tags = read_table(tags_path, required=("tag_id", "tag_name"))
    tag_ids = int_column(tags, "tag_id")
    require_unique(tags, tag_ids, "tag_id")
    shelf_of_tag = pd.Series(
        [canonical_shelf(n) for n in tags.frame["tag_name"].astype(object).tolist()],
        index=tag_ids.to_numpy(dtype=np.int64),
        dtype=object,
    )

    links = read_table(book_tags_path, required=("goodreads_book_id", "tag_id", "count"))
    link_books = int_column(links, "goodreads_book_id")
    link_tags = int_column(links, "tag_id")
    # Real goodbooks counts include a few negatives; they only mean "not a vote".
    counts = int_column(links, "count")
    require_known(links, link_books, goodreads.tolist(), "goodreads_book_id", "books.csv")
    require_known(links, link_tags, shelf_of_tag.index, "tag_id", "tags.csv")

    book_of_goodreads = pd.Series(
        book_ids.to_numpy(dtype=np.int64), index=goodreads.to_numpy(dtype=np.int64)
    )
    votes = pd.DataFrame(
        {
            "book_id": book_of_goodreads.loc[link_books.to_numpy(dtype=np.int64)].to_numpy(),
            "shelf": shelf_of_tag.loc[link_tags.to_numpy(dtype=np.int64)].to_numpy(),
            "count": counts.to_numpy(dtype=np.int64),
        }
    )
    votes = votes[votes["shelf"].notna() & (votes["count"] > 0)]
    # "sci-fi" and "science-fiction" are mostly the same readers: take the larger, not the sum.
    votes = votes.groupby(["book_id", "shelf"], as_index=False)["count"].max()
    votes = votes.sort_values(["book_id", "count", "shelf"], ascending=[True, False, True])
    top = votes.groupby("book_id").head(TOP_SHELVES_PER_BOOK)

    pairs = [
        (int(b), display_name(s))
        for b, s in zip(top["book_id"].tolist(), top["shelf"].tolist(), strict=True)
    ]
    categories = sorted({name for _, name in pairs})
    return categories, pairs


def load_goodbooks(directory: Path, source: str) -> CatalogData:
    table, books, goodreads = _books(directory)
    book_ids = pd.Series(books["id"].to_numpy(dtype=np.int64))
    categories, pairs = _shelves(directory, book_ids, goodreads)
    return CatalogData(
        source=source,
        books=books,
        book_lines=table,
        user_prefix=USER_PREFIX,
        ratings=(
            RatingsFile(directory / "ratings.csv", RATINGS, np.sort(book_ids.to_numpy()))
            if (directory / "ratings.csv").is_file()
            else None
        ),
        categories=categories,
        book_categories=pairs,
    )


def import_goodbooks(
    engine: Engine, directory: Path, progress: bool = True, options: ImportOptions = STRICT
) -> ImportReport:
    """Import a goodbooks-10k directory; see the package docstring for the rules, and
    `ImportOptions` for refusing bad rating lines one by one instead of the whole file."""
    started = time.perf_counter()
    data = load_goodbooks(Path(directory), source=f"goodbooks ({Path(directory).name})")
    return write_catalog(engine, data, progress=progress, options=options, started=started)


def import_demo(engine: Engine, progress: bool = True) -> ImportReport:
    """Import the demo catalog shipped in `db/demo_data/` (goodbooks layout)."""
    started = time.perf_counter()
    data = load_goodbooks(DEMO_DIR, source="demo data")
    return write_catalog(engine, data, progress=progress, options=STRICT, started=started)
