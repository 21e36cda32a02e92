"""MovieLens layouts, told apart by their files: ML-100K (u.data, u.item, u.genre) and
ml-latest-small (ratings.csv, movies.csv). Movies become books, genres categories."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from db.importers.columns import CATEGORY_MAX, check_titles, int_column, require_unique
from db.importers.errors import ImportFailed, fail
from db.importers.ratings import RatingsFile, RatingsLayout
from db.importers.reading import Table, read_table
from db.importers.report import ImportReport
from db.importers.writing import STRICT, CatalogData, ImportOptions, write_catalog

USER_PREFIX = "movielens"
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
# Placeholders, not genres: such movies get no category.
NO_GENRE = {"unknown", "(no genres listed)", ""}
ML100K_FIXED_COLUMNS = ("movie_id", "title", "release_date", "video_release_date", "imdb_url")

ML100K_RATINGS = RatingsLayout(
    "user_id", "item_id", "rating", book_label="item id", books_file="u.item", whole_stars=True,
    timestamp="timestamp", sep="\t", columns=("user_id", "item_id", "rating", "timestamp"),
)  # fmt: skip
LATEST_RATINGS = RatingsLayout(
    "userId", "movieId", "rating", book_label="movieId", books_file="movies.csv",
    whole_stars=False, timestamp="timestamp",
)  # fmt: skip

_TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:\s*[-\u2013]\s*\d{0,4})?\)\s*$")
_DATE_YEAR = re.compile(r"(\d{4})\s*$")


def split_title(raw: str) -> tuple[str, int | None]:
    """'Toy Story (1995)' -> ('Toy Story', 1995); a title without a year is kept whole."""
    raw = raw.strip()
    match = _TITLE_YEAR.match(raw)
    if match and match.group("title"):
        return match.group("title"), int(match.group("year"))
    return raw, None


def _books_frame(ids: pd.Series, titles: list[str], years: list[int | None]) -> pd.DataFrame:
    n = len(titles)
    return pd.DataFrame(
        {
            "id": ids.astype(object).tolist(),
            "title": titles,
            "authors": [""] * n,
            "year": years,
            "isbn": [None] * n,
            "description": [None] * n,
            "cover_url": [None] * n,
        },
        dtype=object,
    )


def _category_pairs(
    book_ids: list[int], genres: list[list[str]]
) -> tuple[list[str], list[tuple[int, str]]]:
    pairs = [
        (book_id, name[:CATEGORY_MAX])
        for book_id, names in zip(book_ids, genres, strict=True)
        for name in dict.fromkeys(n.strip() for n in names)
        if name not in NO_GENRE
    ]
    return sorted({name for _, name in pairs}), pairs


# --------------------------------------------------------------------------- ML-100K


def _ml100k_genres(directory: Path) -> list[str]:
    path = directory / "u.genre"
    if not path.is_file():
        return list(ML100K_GENRES)
    table = read_table(path, sep="|", encoding="latin-1", columns=("name", "index"), quoting=False)
    indexes = int_column(table, "index", minimum=0).to_numpy(dtype=np.int64)
    if sorted(indexes.tolist()) != list(range(len(indexes))):
        raise fail(table.name, None, "genre indexes must be 0, 1, 2, ... without gaps")
    names = table.frame["name"].astype(object).str.strip().tolist()
    return [name for _, name in sorted(zip(indexes.tolist(), names, strict=True))]


def load_ml100k(directory: Path) -> CatalogData:
    genres = _ml100k_genres(directory)
    flags = [f"genre_{i}" for i in range(len(genres))]
    items = read_table(
        directory / "u.item",
        sep="|",
        encoding="latin-1",
        columns=(*ML100K_FIXED_COLUMNS, *flags),
        quoting=False,
    )
    ids = int_column(items, "movie_id", minimum=1)
    require_unique(items, ids, "movie id")
    flag_values = (
        np.column_stack(
            [
                int_column(items, f, label=f"genre flag {genres[i]}").to_numpy(dtype=np.int64)
                for i, f in enumerate(flags)
            ]
        )
        if flags
        else np.zeros((len(items.frame), 0), dtype=np.int64)
    )
    bad = np.flatnonzero(~np.isin(flag_values, (0, 1)).all(axis=1))
    if bad.size:
        raise fail(items.name, items.line(int(bad[0])), "genre flags must be 0 or 1")

    titles, years = [], []
    for raw, date in zip(
        items.frame["title"].astype(object).tolist(),
        items.frame["release_date"].astype(object).tolist(),
        strict=True,
    ):
        title, year = split_title(raw)
        if year is None and (match := _DATE_YEAR.search(date)):
            year = int(match.group(1))
        titles.append(title)
        years.append(year)
    check_titles(items, titles)
    books = _books_frame(ids, titles, years)
    book_ids = ids.astype(int).tolist()
    categories, pairs = _category_pairs(
        book_ids, [[genres[j] for j in np.flatnonzero(row)] for row in flag_values]
    )

    ratings = RatingsFile(directory / "u.data", ML100K_RATINGS, np.sort(ids.to_numpy(np.int64)))
    return _catalog("MovieLens 100K", books, items, ratings, categories, pairs)


# --------------------------------------------------------------------------- ml-latest-small


def load_latest(directory: Path) -> CatalogData:
    movies = read_table(directory / "movies.csv", required=("movieId", "title", "genres"))
    ids = int_column(movies, "movieId", minimum=1)
    require_unique(movies, ids, "movieId")
    split = [split_title(t) for t in movies.frame["title"].astype(object).tolist()]
    titles = [t for t, _ in split]
    check_titles(movies, titles)
    books = _books_frame(ids, titles, [y for _, y in split])
    book_ids = ids.astype(int).tolist()
    categories, pairs = _category_pairs(
        book_ids, [g.split("|") for g in movies.frame["genres"].astype(object).tolist()]
    )

    ratings = RatingsFile(
        directory / "ratings.csv", LATEST_RATINGS, np.sort(ids.to_numpy(np.int64))
    )
    return _catalog("MovieLens (ml-latest-small layout)", books, movies, ratings, categories, pairs)


def _catalog(
    source: str,
    books: pd.DataFrame,
    book_lines: Table,
    ratings: RatingsFile,
    categories: list[str],
    pairs: list[tuple[int, str]],
) -> CatalogData:
    return CatalogData(
        source=source,
        books=books,
        book_lines=book_lines,
        user_prefix=USER_PREFIX,
        ratings=ratings,
        categories=categories,
        book_categories=pairs,
    )


def load_movielens(directory: Path) -> CatalogData:
    directory = Path(directory)
    if (directory / "u.data").is_file() and (directory / "u.item").is_file():
        return load_ml100k(directory)
    if (directory / "ratings.csv").is_file() and (directory / "movies.csv").is_file():
        return load_latest(directory)
    raise ImportFailed(
        f"{directory} is not a MovieLens directory: expected u.data and u.item "
        "(MovieLens 100K, with u.genre optional) or ratings.csv and movies.csv (ml-latest-small)"
    )


def import_movielens(
    engine: Engine, directory: Path, progress: bool = True, options: ImportOptions = STRICT
) -> ImportReport:
    """Import a MovieLens directory (ML-100K or ml-latest-small layout); see `ImportOptions`
    for refusing bad lines of its rating file (u.data, ratings.csv) one by one."""
    started = time.perf_counter()
    data = load_movielens(Path(directory))
    return write_catalog(engine, data, progress=progress, options=options, started=started)
