"""MovieLens layouts, told apart by their files: ML-100K (u.data, u.item, u.genre) and
ml-latest-small (ratings.csv, movies.csv). Movies become books, genres categories."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from db.importers.common import (
    CATEGORY_MAX,
    TITLE_MAX,
    CatalogData,
    ImportFailed,
    ImportReport,
    Table,
    fail,
    half_stars_column,
    int_column,
    ratings_frame,
    read_table,
    require_known,
    require_unique,
    timestamps_column,
    users_frame,
    write_catalog,
)

USER_PREFIX = "movielens"
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
# Placeholders, not genres: such movies get no category.
NO_GENRE = {"unknown", "(no genres listed)", ""}
ML100K_FIXED_COLUMNS = ("movie_id", "title", "release_date", "video_release_date", "imdb_url")

_TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:\s*[-\u2013]\s*\d{0,4})?\)\s*$")
_DATE_YEAR = re.compile(r"(\d{4})\s*$")


def split_title(raw: str) -> tuple[str, int | None]:
    """'Toy Story (1995)' -> ('Toy Story', 1995); a title without a year is kept whole."""
    raw = raw.strip()
    match = _TITLE_YEAR.match(raw)
    if match and match.group("title"):
        return match.group("title"), int(match.group("year"))
    return raw, None


def _check_titles(table: Table, titles: list[str]) -> None:
    for row, title in enumerate(titles):
        if not title:
            raise fail(table.name, table.line(row), "title is empty")
        if len(title) > TITLE_MAX:
            raise fail(table.name, table.line(row), f"title is longer than {TITLE_MAX} characters")


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
    _check_titles(items, titles)
    books = _books_frame(ids, titles, years)
    book_ids = ids.astype(int).tolist()
    categories, pairs = _category_pairs(
        book_ids, [[genres[j] for j in np.flatnonzero(row)] for row in flag_values]
    )

    data = read_table(
        directory / "u.data",
        sep="\t",
        columns=("user_id", "item_id", "rating", "timestamp"),
        quoting=False,
    )
    users = int_column(data, "user_id", minimum=1)
    movies = int_column(data, "item_id", minimum=1)
    half_stars = half_stars_column(data, "rating", whole_stars=True)
    stamps = timestamps_column(data, "timestamp")
    require_known(data, movies, book_ids, "item id", "u.item")
    return CatalogData(
        source="MovieLens 100K",
        books=books,
        book_lines=items,
        users=users_frame(users, USER_PREFIX),
        ratings=ratings_frame(users, movies, half_stars, stamps),
        categories=categories,
        book_categories=pairs,
    )


# --------------------------------------------------------------------------- ml-latest-small


def load_latest(directory: Path) -> CatalogData:
    movies = read_table(directory / "movies.csv", required=("movieId", "title", "genres"))
    ids = int_column(movies, "movieId", minimum=1)
    require_unique(movies, ids, "movieId")
    split = [split_title(t) for t in movies.frame["title"].astype(object).tolist()]
    titles = [t for t, _ in split]
    _check_titles(movies, titles)
    books = _books_frame(ids, titles, [y for _, y in split])
    book_ids = ids.astype(int).tolist()
    categories, pairs = _category_pairs(
        book_ids, [g.split("|") for g in movies.frame["genres"].astype(object).tolist()]
    )

    ratings = read_table(
        directory / "ratings.csv", required=("userId", "movieId", "rating", "timestamp")
    )
    users = int_column(ratings, "userId", minimum=1)
    rated = int_column(ratings, "movieId", minimum=1)
    half_stars = half_stars_column(ratings, "rating", whole_stars=False)
    stamps = timestamps_column(ratings, "timestamp")
    require_known(ratings, rated, book_ids, "movieId", "movies.csv")
    return CatalogData(
        source="MovieLens (ml-latest-small layout)",
        books=books,
        book_lines=movies,
        users=users_frame(users, USER_PREFIX),
        ratings=ratings_frame(users, rated, half_stars, stamps),
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


def import_movielens(engine: Engine, directory: Path, progress: bool = True) -> ImportReport:
    """Import a MovieLens directory (ML-100K or ml-latest-small layout)."""
    started = time.perf_counter()
    data = load_movielens(Path(directory))
    return write_catalog(engine, data, progress=progress, started=started)


# --------------------------------------------------------------------------- benchmark input


def write_ml100k_from_recbole(src_dir: Path, out_dir: Path) -> Path:
    """Rewrite RecBole's copy of ML-100K (`ml-100k.inter`, `ml-100k.item`) in the original
    ML-100K layout (`u.data`, `u.item`, `u.genre`) so it goes through the real importer.

    For benchmarks only: the MovieLens licence forbids redistribution, never commit the output.
    """
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    inter = pd.read_csv(src_dir / "ml-100k.inter", sep="\t", dtype=str, keep_default_na=False)
    inter.columns = [c.split(":")[0] for c in inter.columns]
    with open(out_dir / "u.data", "w", encoding="latin-1", newline="\n") as out:
        for user, item, rating, stamp in zip(
            inter["user_id"], inter["item_id"], inter["rating"], inter["timestamp"], strict=True
        ):
            out.write(f"{user}\t{item}\t{int(float(rating))}\t{int(float(stamp))}\n")

    items = pd.read_csv(src_dir / "ml-100k.item", sep="\t", dtype=str, keep_default_na=False)
    items.columns = [c.split(":")[0] for c in items.columns]
    position = {name: i for i, name in enumerate(ML100K_GENRES)}
    with open(out_dir / "u.item", "w", encoding="latin-1", errors="replace", newline="\n") as out:
        for item, title, year, classes in zip(
            items["item_id"],
            items["movie_title"],
            items["release_year"],
            items["class"],
            strict=True,
        ):
            flags = ["0"] * len(ML100K_GENRES)
            for genre in classes.split():
                flags[position[genre]] = "1"
            title = title.replace("|", "/")
            year = year if year.isdigit() else ""
            full_title = f"{title} ({year})" if year else title
            date = f"01-Jan-{year}" if year else ""
            out.write(f"{item}|{full_title}|{date}|||{'|'.join(flags)}\n")
    with open(out_dir / "u.genre", "w", encoding="latin-1", newline="\n") as out:
        for i, name in enumerate(ML100K_GENRES):
            out.write(f"{name}|{i}\n")
        out.write("\n")
    return out_dir
