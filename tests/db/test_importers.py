"""Dataset importers: goodbooks-10k, MovieLens (100K and latest-small), the demo data.

Runs on SQLite always, and on PostgreSQL too when BOOKREC_TEST_DATABASE_URL is set (in a
scratch database of its own, re-migrated for every test).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from bench.ml100k import write_ml100k_from_recbole
from db.engine import make_engine, normalize_url
from db.importers import (
    ImportFailed,
    ImportReport,
    import_demo,
    import_goodbooks,
    import_movielens,
    writing,
)
from db.importers.goodbooks import DEMO_DIR, normalize_isbn
from db.importers.movielens import ML100K_GENRES, split_title
from db.importers.shelves import canonical_shelf, display_name
from db.schema_setup import downgrade, upgrade

PG_ENV = "BOOKREC_TEST_DATABASE_URL"
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get(PG_ENV) else [])
TABLES = ("book", "category", "book_category", "app_user", "rating")

# --------------------------------------------------------------------------- databases


@pytest.fixture(scope="module")
def pg_scratch_url() -> Iterator[str | None]:
    """A scratch PostgreSQL database for this module, created and dropped here; each test
    re-migrates it (downgrade to base, upgrade to head)."""
    base = os.environ.get(PG_ENV)
    if not base:
        yield None
        return
    url = make_url(normalize_url(base))
    # Unique: several test runs may share one server.
    scratch = f"{url.database}_imp_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{scratch}"'))
    try:
        yield url.set(database=scratch).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, pg_scratch_url: str | None) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'import.db'}"
    else:
        assert pg_scratch_url is not None
        url = pg_scratch_url
        downgrade(url, "base")  # reset: drop everything the previous test left
    upgrade(url)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def rows(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql)).all()]


EMPTY = dict.fromkeys(TABLES, 0)

# --------------------------------------------------------------------------- dataset files

BOOKS_HEADER = (
    "book_id,goodreads_book_id,best_book_id,work_id,books_count,isbn,isbn13,authors,"
    "original_publication_year,original_title,title,language_code,average_rating,image_url"
)
BOOKS = [
    "1,2767052,2767052,1,272,439023483,9.78043902348e+12,Suzanne Collins,2008.0,"
    'The Hunger Games,"The Hunger Games (The Hunger Games, #1)",eng,4.34,http://x/1.jpg',
    '2,3,3,2,491,043965548X,9.78043955493e+12,"J.K. Rowling, Mary GrandPré",1997.0,'
    "Harry Potter,Harry Potter and the Sorcerer's Stone,eng,4.44,http://x/2.jpg",
    "3,41865,41865,3,226,,,Homer,-750.0,,The Odyssey,eng,3.7,",
    "4,5107,5107,4,10,316769177.0,,J.D. Salinger,,,The Catcher in the Rye,eng,3.8,http://x/4.jpg",
]
RATINGS = ["user_id,book_id,rating", "1,1,5", "1,2,4", "2,1,3", "2,3,1", "7,4,2"]
TAGS = [
    "tag_id,tag_name",
    "0,to-read",
    "1,fantasy",
    "2,young-adult",
    "3,sci-fi",
    "4,science-fiction",
    "5,favorites",
    "6,dystopian",
    "7,classics",
    "8,fiction",
]
BOOK_TAGS = [
    "goodreads_book_id,tag_id,count",
    "2767052,0,9000",  # noise shelf: ignored even though it is the largest
    "2767052,2,500",
    "2767052,3,300",
    "2767052,4,350",  # science-fiction via two spellings: the larger count wins
    "2767052,6,320",
    "2767052,8,100",  # fourth genre: not kept
    "3,1,800",
    "3,5,700",
    "3,2,-1",  # real goodbooks data has a few negative counts: not a vote
    "41865,7,50",
]


def write_lines(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def goodbooks_dir(root: Path, *, tags: bool = True, ratings: bool = True) -> Path:
    d = root / "goodbooks"
    write_lines(d / "books.csv", [BOOKS_HEADER, *BOOKS])
    if ratings:
        write_lines(d / "ratings.csv", RATINGS)
    if tags:
        write_lines(d / "tags.csv", TAGS)
        write_lines(d / "book_tags.csv", BOOK_TAGS)
    return d


def ml100k_dir(root: Path, *, genre_file: bool = True) -> Path:
    d = root / "ml-100k"
    flags = ["0"] * 19

    def item(movie_id: int, title: str, date: str, genres: tuple[int, ...]) -> str:
        f = list(flags)
        for g in genres:
            f[g] = "1"
        return f"{movie_id}|{title}|{date}||http://imdb/{movie_id}|" + "|".join(f)

    write_lines(
        d / "u.item",
        [
            item(1, "Toy Story (1995)", "01-Jan-1995", (3, 4, 5)),
            item(2, "Cité des enfants perdus, La (1995)", "01-Jan-1995", (9, 15)),
            item(3, "Nameless", "04-Jul-1970", (8,)),
            item(4, "unknown", "", (0,)),
        ],
        encoding="latin-1",
    )
    write_lines(
        d / "u.data",
        ["196\t1\t3\t881250949", "186\t2\t5\t891717742", "22\t1\t1\t878887116", "22\t3\t4\t0"],
    )
    if genre_file:
        write_lines(d / "u.genre", [f"{name}|{i}" for i, name in enumerate(ML100K_GENRES)] + [""])
    return d


def ml_latest_dir(root: Path) -> Path:
    d = root / "ml-latest-small"
    write_lines(
        d / "movies.csv",
        [
            "movieId,title,genres",
            "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy",
            '11,"American President, The (1995)",Comedy|Drama|Romance',
            "193,Babylon 5,Sci-Fi",
            "200,Nothing Here (2018),(no genres listed)",
        ],
    )
    write_lines(
        d / "ratings.csv",
        [
            "userId,movieId,rating,timestamp",
            "1,1,4.0,964982703",
            "1,11,0.5,964981247",
            "5,1,3.5,847434962",
            "5,193,5.0,847435238",
            "5,200,2.5,847435238",
        ],
    )
    return d


LAYOUTS = {
    "goodbooks": lambda root: (import_goodbooks, goodbooks_dir(root)),
    "goodbooks-no-tags": lambda root: (import_goodbooks, goodbooks_dir(root, tags=False)),
    "ml-100k": lambda root: (import_movielens, ml100k_dir(root)),
    "ml-100k-no-genre-file": lambda root: (import_movielens, ml100k_dir(root, genre_file=False)),
    "ml-latest-small": lambda root: (import_movielens, ml_latest_dir(root)),
}

# --------------------------------------------------------------------------- imports


def test_goodbooks_import(engine: Engine, tmp_path: Path) -> None:
    report = import_goodbooks(engine, goodbooks_dir(tmp_path), progress=False)

    assert (report.books_inserted, report.users_inserted, report.ratings_inserted) == (4, 3, 5)
    assert report.books_skipped == report.users_skipped == report.ratings_skipped == 0
    books = rows(engine, "SELECT id, title, authors, year, isbn, cover_url, description FROM book")
    assert sorted(books) == [
        (1, "The Hunger Games (The Hunger Games, #1)", "Suzanne Collins", 2008, "0439023483",
         "http://x/1.jpg", None),
        (2, "Harry Potter and the Sorcerer's Stone", "J.K. Rowling, Mary GrandPré", 1997,
         "043965548X", "http://x/2.jpg", None),
        (3, "The Odyssey", "Homer", -750, None, None, None),
        (4, "The Catcher in the Rye", "J.D. Salinger", None, "0316769177", "http://x/4.jpg", None),
    ]  # fmt: skip
    assert rows(
        engine, "SELECT id, username, username_key, password_hash FROM app_user ORDER BY id"
    ) == [
        (1, "goodbooks-1", "goodbooks-1", None),
        (2, "goodbooks-2", "goodbooks-2", None),
        (7, "goodbooks-7", "goodbooks-7", None),
    ]
    assert rows(engine, "SELECT user_id, book_id, half_stars FROM rating ORDER BY 1, 2") == [
        (1, 1, 10), (1, 2, 8), (2, 1, 6), (2, 3, 2), (7, 4, 4),
    ]  # fmt: skip


def test_goodbooks_shelves_become_top_three_genres(engine: Engine, tmp_path: Path) -> None:
    report = import_goodbooks(engine, goodbooks_dir(tmp_path), progress=False)

    links = rows(
        engine,
        "SELECT bc.book_id, c.name FROM book_category bc JOIN category c ON c.id = bc.category_id "
        "ORDER BY bc.book_id, c.name",
    )
    assert links == [
        (1, "Dystopia"), (1, "Science Fiction"), (1, "Young Adult"),
        (2, "Fantasy"),
        (3, "Classics"),
    ]  # fmt: skip
    assert report.categories_inserted == 5
    assert sorted(r[0] for r in rows(engine, "SELECT name FROM category")) == [
        "Classics", "Dystopia", "Fantasy", "Science Fiction", "Young Adult",
    ]  # fmt: skip


def test_goodbooks_without_tags_or_ratings(engine: Engine, tmp_path: Path) -> None:
    report = import_goodbooks(
        engine, goodbooks_dir(tmp_path, tags=False, ratings=False), progress=False
    )
    assert report.books_inserted == 4
    assert counts(engine) == {**EMPTY, "book": 4}


def test_ml100k_import(engine: Engine, tmp_path: Path) -> None:
    report = import_movielens(engine, ml100k_dir(tmp_path), progress=False)

    assert (report.books_inserted, report.users_inserted, report.ratings_inserted) == (4, 3, 4)
    assert rows(engine, "SELECT id, title, year, authors FROM book ORDER BY id") == [
        (1, "Toy Story", 1995, ""),
        (2, "Cité des enfants perdus, La", 1995, ""),
        (3, "Nameless", 1970, ""),  # year from the release date
        (4, "unknown", None, ""),
    ]
    links = rows(
        engine,
        "SELECT bc.book_id, c.name FROM book_category bc JOIN category c ON c.id = bc.category_id "
        "ORDER BY bc.book_id, c.name",
    )
    assert links == [
        (1, "Animation"), (1, "Children's"), (1, "Comedy"),
        (2, "Fantasy"), (2, "Sci-Fi"),
        (3, "Drama"),
    ]  # fmt: skip
    assert [r[0] for r in rows(engine, "SELECT username FROM app_user ORDER BY id")] == [
        "movielens-22", "movielens-186", "movielens-196",
    ]  # fmt: skip
    assert rows(engine, "SELECT half_stars FROM rating WHERE user_id = 186") == [(10,)]
    (created,) = rows(engine, "SELECT created_at FROM rating WHERE user_id = 196")[0]
    if isinstance(created, str):  # SQLite returns naive UTC text through sa.text()
        created = datetime.fromisoformat(created).replace(tzinfo=UTC)
    assert created.replace(tzinfo=created.tzinfo or UTC) == datetime.fromtimestamp(881250949, UTC)


def test_ml100k_without_genre_file_uses_standard_genres(engine: Engine, tmp_path: Path) -> None:
    import_movielens(engine, ml100k_dir(tmp_path, genre_file=False), progress=False)
    names = {r[0] for r in rows(engine, "SELECT name FROM category")}
    assert names == {"Animation", "Children's", "Comedy", "Fantasy", "Sci-Fi", "Drama"}


def test_ml_latest_small_import(engine: Engine, tmp_path: Path) -> None:
    report = import_movielens(engine, ml_latest_dir(tmp_path), progress=False)

    assert (report.books_inserted, report.users_inserted, report.ratings_inserted) == (4, 2, 5)
    assert rows(engine, "SELECT id, title, year FROM book ORDER BY id") == [
        (1, "Toy Story", 1995),
        (11, "American President, The", 1995),
        (193, "Babylon 5", None),
        (200, "Nothing Here", 2018),
    ]
    assert rows(engine, "SELECT user_id, book_id, half_stars FROM rating ORDER BY 1, 2") == [
        (1, 1, 8), (1, 11, 1), (5, 1, 7), (5, 193, 10), (5, 200, 5),
    ]  # fmt: skip
    assert rows(engine, "SELECT count(*) FROM book_category WHERE book_id = 200") == [(0,)]
    assert "(no genres listed)" not in {r[0] for r in rows(engine, "SELECT name FROM category")}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_importing_twice_changes_nothing(engine: Engine, tmp_path: Path, layout: str) -> None:
    importer, directory = LAYOUTS[layout](tmp_path)
    first = importer(engine, directory, progress=False)
    after_first = counts(engine)
    snapshot = rows(
        engine, "SELECT user_id, book_id, half_stars, created_at FROM rating ORDER BY 1, 2"
    )

    second = importer(engine, directory, progress=False)

    assert counts(engine) == after_first
    assert (
        rows(engine, "SELECT user_id, book_id, half_stars, created_at FROM rating ORDER BY 1, 2")
        == snapshot
    )
    assert (second.books_inserted, second.users_inserted, second.ratings_inserted) == (0, 0, 0)
    assert second.categories_inserted == second.book_categories_inserted == 0
    assert second.books_skipped == first.books_inserted
    assert second.users_skipped == first.users_inserted
    assert second.ratings_skipped == first.ratings_inserted
    assert second.categories_skipped == first.categories_inserted


def test_directory_without_a_known_layout(engine: Engine, tmp_path: Path) -> None:
    write_lines(tmp_path / "ratings.csv", RATINGS)
    with pytest.raises(
        ImportFailed, match=r"expected u\.data and u\.item .* ratings\.csv and movies\.csv"
    ):
        import_movielens(engine, tmp_path, progress=False)
    with pytest.raises(ImportFailed, match=r"books\.csv not found"):
        import_goodbooks(engine, tmp_path / "nowhere", progress=False)


# --------------------------------------------------------------------------- malformed files


def _replace_line(path: Path, line: int, text: str | bytes) -> None:
    lines = path.read_bytes().split(b"\n")
    lines[line - 1] = text if isinstance(text, bytes) else text.encode("utf-8")
    path.write_bytes(b"\n".join(lines))


MALFORMED = [
    # layout, file, line to replace, new content, expected message
    (
        "goodbooks",
        "ratings.csv",
        3,
        "1,abc,4",
        r"^ratings\.csv line 3: book_id 'abc' is not an integer$",
    ),
    (
        "goodbooks",
        "ratings.csv",
        4,
        "2,1,7",
        r"^ratings\.csv line 4: rating '7' is not between 1 and 5$",
    ),
    (
        "goodbooks",
        "ratings.csv",
        2,
        "1,1,4.5",
        r"^ratings\.csv line 2: rating '4\.5' is not between 1 and 5$",
    ),
    (
        "goodbooks",
        "ratings.csv",
        1,
        "user_id,book_id",
        r"^ratings\.csv line 1: missing column\(s\) rating",
    ),
    (
        "goodbooks",
        "ratings.csv",
        6,
        "7,99,2",
        r"^ratings\.csv line 6: book_id 99 is not in books\.csv$",
    ),
    ("goodbooks", "ratings.csv", 5, "2,3", r"^ratings\.csv line 5: expected 3 fields, found 2$"),
    ("goodbooks", "ratings.csv", 3, "1,2,", r"^ratings\.csv line 3: rating '' is not a number$"),
    (
        "goodbooks",
        "books.csv",
        3,
        b"2,3,3,2,491,1,1,Caf\xe9,1997,x,T,eng,4,u",
        r"^books\.csv line 3: byte 0xe9 is not valid utf-8",
    ),
    (
        "goodbooks",
        "books.csv",
        4,
        "3,41865,41865,3,226,,,Homer,antiquity,,The Odyssey,eng,3.7,",
        r"^books\.csv line 4: year 'antiquity' is not an integer$",
    ),
    (
        "goodbooks",
        "books.csv",
        5,
        "1,5107,5107,4,10,,,J.D. Salinger,,,Catcher,eng,3.8,",
        r"^books\.csv line 5: book_id 1 appears twice$",
    ),
    (
        "goodbooks",
        "books.csv",
        2,
        '1,2767052,2767052,1,272,,,Suzanne Collins,2008,"The Hunger',
        r"^books\.csv line 2: expected 14 fields, found",
    ),
    (
        "goodbooks",
        "book_tags.csv",
        4,
        "2767052,42,5",
        r"^book_tags\.csv line 4: tag_id 42 is not in tags\.csv$",
    ),
    (
        "goodbooks",
        "book_tags.csv",
        2,
        "999,1,5",
        r"^book_tags\.csv line 2: goodreads_book_id 999 is not in books\.csv$",
    ),
    (
        "ml-100k",
        "u.data",
        2,
        "186\t2\t6\t891717742",
        r"^u\.data line 2: rating '6' is not between 1 and 5$",
    ),
    ("ml-100k", "u.data", 3, "22\t1\t1", r"^u\.data line 3: expected 4 fields, found 3$"),
    ("ml-100k", "u.data", 4, "22\t77\t4\t0", r"^u\.data line 4: item id 77 is not in u\.item$"),
    (
        "ml-100k",
        "u.item",
        3,
        "3|Nameless|04-Jul-1970||x|0|0",
        r"^u\.item line 3: expected 24 fields, found 7$",
    ),
    (
        "ml-latest-small",
        "ratings.csv",
        3,
        "1,11,5.5,964981247",
        r"^ratings\.csv line 3: rating '5\.5' is not between 0\.5 and 5 in half steps$",
    ),
    (
        "ml-latest-small",
        "ratings.csv",
        4,
        "5,1,3.25,847434962",
        r"^ratings\.csv line 4: rating '3\.25' is not between 0\.5 and 5",
    ),
    (
        "ml-latest-small",
        "ratings.csv",
        2,
        "1,1,0,964982703",
        r"^ratings\.csv line 2: rating '0' is not between 0\.5 and 5",
    ),
    (
        "ml-latest-small",
        "ratings.csv",
        5,
        "5,193,5.0,yesterday",
        r"^ratings\.csv line 5: timestamp 'yesterday' is not an integer$",
    ),
    (
        "ml-latest-small",
        "movies.csv",
        1,
        "movieId,name,genres",
        r"^movies\.csv line 1: missing column\(s\) title",
    ),
    (
        "ml-latest-small",
        "movies.csv",
        3,
        b'11,"Am\xe9lie (2001)",Comedy',
        r"^movies\.csv line 3: byte 0xe9 is not valid utf-8",
    ),
]


@pytest.mark.parametrize(
    ("layout", "filename", "line", "content", "message"),
    MALFORMED,
    ids=[f"{m[0]}-{m[1]}-{i}" for i, m in enumerate(MALFORMED)],
)
def test_malformed_file_names_file_and_line_and_writes_nothing(
    engine: Engine,
    tmp_path: Path,
    layout: str,
    filename: str,
    line: int,
    content: str | bytes,
    message: str,
) -> None:
    importer, directory = LAYOUTS[layout](tmp_path)
    _replace_line(directory / filename, line, content)

    with pytest.raises(ImportFailed, match=message):
        importer(engine, directory, progress=False)
    assert counts(engine) == EMPTY


def test_blank_lines_do_not_shift_line_numbers(engine: Engine, tmp_path: Path) -> None:
    directory = goodbooks_dir(tmp_path, tags=False)
    write_lines(directory / "ratings.csv", ["user_id,book_id,rating", "1,1,5", "", "2,1,9"])
    with pytest.raises(ImportFailed, match=r"^ratings\.csv line 4: rating '9'"):
        import_goodbooks(engine, directory, progress=False)


def test_quoted_multiline_field_keeps_line_numbers(engine: Engine, tmp_path: Path) -> None:
    directory = ml_latest_dir(tmp_path)
    write_lines(
        directory / "movies.csv",
        ["movieId,title,genres", '1,"Two\nLines (1990)",Drama', "x,Broken (1991),Drama"],
    )
    with pytest.raises(ImportFailed, match=r"^movies\.csv line 4: movieId 'x' is not an integer$"):
        import_movielens(engine, directory, progress=False)


def test_failure_while_writing_rolls_everything_back(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class FailingWriter:
        def write(self, chunk):  # type: ignore[no-untyped-def]
            raise RuntimeError("disk full")

        def close(self) -> None:
            pass

    monkeypatch.setattr(writing, "rating_writer", lambda conn, now: FailingWriter())
    with pytest.raises(RuntimeError, match="disk full"):
        import_goodbooks(engine, goodbooks_dir(tmp_path), progress=False)
    assert counts(engine) == EMPTY


# --------------------------------------------------------------------------- other catalogs


def test_book_id_held_by_another_book_is_refused(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO book (id, title) VALUES (2, 'Some Other Book')"))
    before = counts(engine)
    with pytest.raises(
        ImportFailed,
        match=r"books\.csv line 3: book id 2 is already 'Some Other Book'.*another catalog",
    ):
        import_goodbooks(engine, goodbooks_dir(tmp_path), progress=False)
    assert counts(engine) == before


def test_user_id_held_by_another_user_is_refused(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO app_user (id, username, username_key, password_hash, created_at) "
                "VALUES (2, 'Alice', 'alice', 'x', :now)"
            ),
            {"now": datetime.now(UTC)},
        )
    before = counts(engine)
    with pytest.raises(ImportFailed, match=r"user id 2 is already 'alice'"):
        import_goodbooks(engine, goodbooks_dir(tmp_path), progress=False)
    assert counts(engine) == before


def test_username_held_by_another_id_is_refused(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO app_user (id, username, username_key, created_at) "
                "VALUES (500, 'goodbooks-7', 'goodbooks-7', :now)"
            ),
            {"now": datetime.now(UTC)},
        )
    with pytest.raises(
        ImportFailed, match=r"username 'goodbooks-7' already belongs to user id 500"
    ):
        import_goodbooks(engine, goodbooks_dir(tmp_path), progress=False)
    assert counts(engine) == {**EMPTY, "app_user": 1}


def test_later_inserts_without_ids_do_not_collide(engine: Engine, tmp_path: Path) -> None:
    import_goodbooks(engine, goodbooks_dir(tmp_path), progress=False)
    with engine.begin() as conn:
        book_id = conn.execute(
            sa.text("INSERT INTO book (title) VALUES ('Brand New') RETURNING id")
        ).scalar_one()
        category_id = conn.execute(
            sa.text("INSERT INTO category (name) VALUES ('Brand New') RETURNING id")
        ).scalar_one()
        user_id = conn.execute(
            sa.text(
                "INSERT INTO app_user (username, username_key, created_at) "
                "VALUES ('newbie', 'newbie', :now) RETURNING id"
            ),
            {"now": datetime.now(UTC)},
        ).scalar_one()
    assert book_id == 5
    assert user_id == 8
    assert category_id == 6


# --------------------------------------------------------------------------- demo data, speed


def test_demo_shelves_are_all_genres() -> None:
    tags = DEMO_DIR / "tags.csv"
    names = [line.split(",", 1)[1] for line in tags.read_text("utf-8").splitlines()[1:] if line]
    assert names
    assert [n for n in names if canonical_shelf(n) is None] == []


def test_demo_import(engine: Engine) -> None:
    started = time.perf_counter()
    report = import_demo(engine, progress=False)
    print(
        f"\n{engine.dialect.name}: {report.summary()} (wall {time.perf_counter() - started:.2f}s)"
    )
    assert (report.books_inserted, report.users_inserted, report.ratings_inserted) == (
        2_500,
        3_000,
        119_224,
    )
    assert report.categories_inserted == 17
    assert counts(engine)["book_category"] >= report.books_inserted  # every book has a shelf


def test_hundred_thousand_ratings_import_quickly(engine: Engine, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n_users, n_movies, per_user = 1000, 2000, 100
    directory = tmp_path / "ml-big"
    write_lines(
        directory / "movies.csv",
        ["movieId,title,genres"]
        + [f"{m},Movie {m} ({1950 + m % 70}),Drama|Comedy" for m in range(1, n_movies + 1)],
    )
    lines = ["userId,movieId,rating,timestamp"]
    for user in range(1, n_users + 1):
        movies = rng.choice(n_movies, size=per_user, replace=False) + 1
        stars = rng.integers(1, 11, size=per_user) / 2
        lines += [f"{user},{m},{s:.1f},{964982703 + m}" for m, s in zip(movies, stars, strict=True)]
    write_lines(directory / "ratings.csv", lines)

    report = import_movielens(engine, directory, progress=False)

    print(f"\n{engine.dialect.name}: 100,000 ratings: {report.summary()}")
    assert report.ratings_inserted == 100_000
    assert counts(engine)["rating"] == 100_000


# --------------------------------------------------------------------------- pieces


def test_report_summary() -> None:
    report = ImportReport(source="demo data", books_inserted=3, ratings_skipped=1200, seconds=1.5)
    assert report.summary() == (
        "Imported demo data in 1.50s: books 3 new, 0 already present; categories 0 new, 0 "
        "already present; users 0 new, 0 already present; ratings 0 new, 1,200 already present."
    )


@pytest.mark.parametrize(
    ("raw", "isbn"),
    [("439023483", "0439023483"), ("439023483.0", "0439023483"), ("043965548X", "043965548X"),
     ("9780439023481", "9780439023481"), ("", None), ("9.78043902348e+12", None)],
)  # fmt: skip
def test_normalize_isbn(raw: str, isbn: str | None) -> None:
    assert normalize_isbn(raw) == isbn


def test_split_title_and_display_names() -> None:
    assert split_title("Toy Story (1995)") == ("Toy Story", 1995)
    assert split_title("Babylon 5") == ("Babylon 5", None)
    assert split_title("(500) Days of Summer (2009)") == ("(500) Days of Summer", 2009)
    assert display_name("science-fiction") == "Science Fiction"
    assert display_name("non-fiction") == "Non-fiction"
    assert canonical_shelf("Sci-Fi") == "science-fiction"
    assert canonical_shelf("to-read") is None


def test_write_ml100k_from_recbole(engine: Engine, tmp_path: Path) -> None:
    src = tmp_path / "recbole"
    write_lines(
        src / "ml-100k.inter",
        ["user_id:token\titem_id:token\trating:float\ttimestamp:float", "196\t1\t3\t881250949",
         "186\t2\t5\t891717742"],
    )  # fmt: skip
    write_lines(
        src / "ml-100k.item",
        ["item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq",
         "1\tToy Story\t1995\tAnimation Children's Comedy", "2\tunkonwn\tunkonwn\tunknown"],
    )  # fmt: skip
    out = write_ml100k_from_recbole(src, tmp_path / "ml-100k")

    report = import_movielens(engine, out, progress=False)
    assert (report.books_inserted, report.ratings_inserted) == (2, 2)
    assert rows(engine, "SELECT id, title, year FROM book ORDER BY id") == [
        (1, "Toy Story", 1995), (2, "unkonwn", None),
    ]  # fmt: skip
    assert {r[0] for r in rows(engine, "SELECT name FROM category")} == {
        "Animation", "Children's", "Comedy",
    }  # fmt: skip
