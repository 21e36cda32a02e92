"""Invariants of the shipped demo dataset (db/demo_data) and of its generator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO = REPO_ROOT / "db" / "demo_data"
GENERATOR = REPO_ROOT / "scripts" / "make_demo_data.py"
SOURCE_BOOKS = REPO_ROOT / ".." / "shared" / "data" / "goodbooks-10k" / "books.csv"
CSV_FILES = ("books.csv", "ratings.csv", "tags.csv", "book_tags.csv")
GOODBOOKS_HEADER = [
    "book_id", "goodreads_book_id", "best_book_id", "work_id", "books_count", "isbn",
    "isbn13", "authors", "original_publication_year", "original_title", "title",
    "language_code", "average_rating", "ratings_count", "work_ratings_count",
    "work_text_reviews_count", "ratings_1", "ratings_2", "ratings_3", "ratings_4",
    "ratings_5", "image_url", "small_image_url",
]  # fmt: skip


@pytest.fixture(scope="module")
def books() -> pd.DataFrame:
    return pd.read_csv(DEMO / "books.csv")


@pytest.fixture(scope="module")
def ratings() -> pd.DataFrame:
    return pd.read_csv(DEMO / "ratings.csv")


@pytest.fixture(scope="module")
def tags() -> pd.DataFrame:
    return pd.read_csv(DEMO / "tags.csv")


@pytest.fixture(scope="module")
def book_tags() -> pd.DataFrame:
    return pd.read_csv(DEMO / "book_tags.csv")


def test_files_and_license_notice_are_shipped() -> None:
    for name in (*CSV_FILES, "README.md"):
        assert (DEMO / name).is_file(), name
    readme = (DEMO / "README.md").read_text(encoding="utf-8")
    assert "Zygmunt Zając" in readme
    assert "Attribution-ShareAlike 4.0" in readme
    assert "SYNTHETIC" in readme


def test_books_keep_the_goodbooks_layout(books: pd.DataFrame) -> None:
    assert list(books.columns) == GOODBOOKS_HEADER
    assert len(books) >= 2000
    assert books["book_id"].is_unique
    assert books["goodreads_book_id"].is_unique
    assert books["book_id"].between(1, 10_000).all()


def test_ratings_sizes_and_ranges(ratings: pd.DataFrame, books: pd.DataFrame) -> None:
    assert list(ratings.columns) == ["user_id", "book_id", "rating"]
    assert ratings["user_id"].nunique() >= 2000
    assert len(ratings) >= 100_000
    assert ratings["rating"].between(1, 5).all()
    assert not ratings.duplicated(["user_id", "book_id"]).any()
    assert ratings["book_id"].isin(books["book_id"]).all()
    assert ratings.groupby("user_id").size().min() >= 5


def test_every_book_has_one_to_three_category_tags(
    books: pd.DataFrame, tags: pd.DataFrame, book_tags: pd.DataFrame
) -> None:
    assert list(tags.columns) == ["tag_id", "tag_name"]
    assert list(book_tags.columns) == ["goodreads_book_id", "tag_id", "count"]
    assert len(tags) >= 10 and tags["tag_id"].is_unique and tags["tag_name"].is_unique
    assert tags["tag_name"].str.fullmatch(r"[a-z]+(-[a-z]+)*").all()
    assert book_tags["tag_id"].isin(tags["tag_id"]).all()
    assert book_tags["goodreads_book_id"].isin(books["goodreads_book_id"]).all()
    assert not book_tags.duplicated(["goodreads_book_id", "tag_id"]).any()
    assert (book_tags["count"] > 0).all()
    per_book = book_tags.groupby("goodreads_book_id").size()
    assert set(books["goodreads_book_id"]) == set(per_book.index)
    assert per_book.between(1, 3).all()
    # Every category is actually used by a reasonable number of books.
    books_per_tag = book_tags.groupby("tag_id").size().reindex(tags["tag_id"], fill_value=0)
    assert (books_per_tag >= 30).all()


def test_generator_reproduces_the_shipped_files(tmp_path: Path) -> None:
    # Prefer the full catalog; without it the shipped subset is a valid input too (the
    # generator only ever looks at the books it selects).
    source = SOURCE_BOOKS if SOURCE_BOOKS.is_file() else DEMO / "books.csv"
    subprocess.run(
        [sys.executable, str(GENERATOR), "--books", str(source), "--out", str(tmp_path),
         "--quiet"],
        check=True,
        timeout=120,
    )  # fmt: skip
    for name in CSV_FILES:
        assert (tmp_path / name).read_bytes() == (DEMO / name).read_bytes(), name
