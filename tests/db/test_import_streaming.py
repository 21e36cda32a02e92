"""Rating files streamed in chunks: the strict default (one bad line, even deep in the file,
refuses the import and writes nothing), `skip_invalid` and its report of refused lines, chunk
boundaries, re-imports. On SQLite and PostgreSQL (the `engine` fixture of tests/conftest.py).
Small chunks (`ImportOptions.chunk_lines`) stand in for the 200,000-line chunks of a real import."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from app.cli import main
from db.importers import ImportFailed, ImportOptions, import_goodbooks, import_movielens, ratings

TABLES = ("book", "category", "book_category", "app_user", "rating")
BOOKS = 50
CHUNK = 100  # lines per chunk in these tests
SMALL_CHUNKS = ImportOptions(chunk_lines=CHUNK)


def skipping(report: Path, lines: int = CHUNK) -> ImportOptions:
    return ImportOptions(skip_invalid=True, refused_report=report, chunk_lines=lines)


@pytest.fixture(params=["whole-chunk", "halved"])
def narrowing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A chunk with a bad line is checked line by line whole, or halved down to 7 lines first
    (as a real 200,000-line chunk is halved down to ratings.CHECKED_LINES)."""
    if request.param == "halved":
        monkeypatch.setattr(ratings, "CHECKED_LINES", 7)


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def stored_ratings(engine: Engine) -> set[tuple[int, int, int]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT user_id, book_id, half_stars FROM rating")).all()
    return {(u, b, h) for u, b, h in rows}


def good_line(i: int) -> str:
    """The i-th good rating line: reader i // 7 + 1 rates 7 distinct books."""
    return f"{i // 7 + 1},{i % 7 * 7 + 1},{i % 5 + 1}"


def goodbooks(tmp_path: Path, lines: list[str | bytes]) -> Path:
    """A goodbooks directory whose ratings.csv has `lines` after its header (line 2 on)."""
    directory = tmp_path / "goodbooks"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "books.csv").write_text(
        "book_id,title,authors\n"
        + "".join(f"{b},Book {b},Author {b}\n" for b in range(1, BOOKS + 1))
    )
    body = b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines)
    (directory / "ratings.csv").write_bytes(b"user_id,book_id,rating\n" + body)
    return directory


def expected(lines: list[str | bytes]) -> set[tuple[int, int, int]]:
    """What the good lines among `lines` should store (first line of a pair wins)."""
    kept: dict[tuple[int, int], int] = {}
    for line in lines:
        if isinstance(line, str) and line in GOOD:
            u, b, r = (int(x) for x in line.split(","))
            kept.setdefault((u, b), 2 * r)
    return {(u, b, h) for (u, b), h in kept.items()}


GOOD = {good_line(i) for i in range(10_000)}
# (bad line, reason); the content is the line itself
BAD: list[tuple[str | bytes, str]] = [
    ("3,4", "expected 3 fields, found 2"),
    ("1,2,3,4", "expected 3 fields, found 4"),
    ("x,1,5", "user_id 'x' is not an integer"),
    (",1,5", "user_id is empty"),
    ("0,1,5", "user_id '0' is less than 1"),
    ("1,2.5,5", "book_id '2.5' is not an integer"),
    ("1,1,9", "rating '9' is not between 1 and 5"),
    ("1,1,", "rating '' is not a number"),
    ("1,999,3", "book_id 999 is not in books.csv"),
    ("9999999999,1,3", "user_id '9999999999' is greater than 2147483647"),
    (b"1,2,\xe9", "byte 0xe9 is not valid utf-8 text"),
    ('1,"2,3', "malformed CSV (unexpected end of data)"),
]


def with_bad_lines(n_good: int, bad_at: dict[int, str | bytes]) -> list[str | bytes]:
    """`n_good` good lines with bad ones put at the given file lines (the header is line 1)."""
    lines: list[str | bytes] = [good_line(i) for i in range(n_good)]
    for line_number in sorted(bad_at):
        lines.insert(line_number - 2, bad_at[line_number])
    return lines


def refused_rows(path: Path) -> list[tuple[str, int, str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return [(r["file"], int(r["line"]), r["reason"], r["content"]) for r in csv.DictReader(f)]


# --------------------------------------------------------------------------- strict default


def test_one_bad_line_deep_in_the_file_refuses_everything(engine: Engine, tmp_path: Path) -> None:
    first = import_goodbooks(
        engine, goodbooks(tmp_path / "a", [good_line(i) for i in range(70)]), progress=False
    )
    before = counts(engine)
    assert first.ratings_inserted == 70
    lines = with_bad_lines(5_000, {4_999: "7,1,7"})

    with pytest.raises(
        ImportFailed, match=r"^ratings\.csv line 4999: rating '7' is not between 1 and 5$"
    ):
        import_goodbooks(
            engine, goodbooks(tmp_path / "b", lines), progress=False, options=SMALL_CHUNKS
        )

    assert counts(engine) == before
    assert not list(Path.cwd().glob("bookrec-refused-*"))  # strict mode writes no report


@pytest.mark.usefixtures("narrowing")
def test_strict_reports_the_first_bad_line_of_several(engine: Engine, tmp_path: Path) -> None:
    lines = with_bad_lines(1_000, {450: "1,1,0", 451: "x,1,1", 960: "3,4"})
    with pytest.raises(ImportFailed, match=r"^ratings\.csv line 450: rating '0' is not between"):
        import_goodbooks(engine, goodbooks(tmp_path, lines), progress=False, options=SMALL_CHUNKS)
    assert counts(engine) == dict.fromkeys(TABLES, 0)


# --------------------------------------------------------------------------- skip_invalid


@pytest.mark.usefixtures("narrowing")
def test_skip_invalid_imports_the_good_lines_and_lists_every_bad_one(
    engine: Engine, tmp_path: Path
) -> None:
    # The bad lines spread over many chunks, two in one chunk, one on the first line.
    bad_at = {2 + 97 * i: bad for i, (bad, _) in enumerate(BAD)}
    bad_at[3] = "5,5,5,5"
    lines = with_bad_lines(2_000, bad_at)
    report = tmp_path / "refused.csv"

    result = import_goodbooks(
        engine,
        goodbooks(tmp_path, lines),
        progress=False,
        options=skipping(report),
    )

    assert stored_ratings(engine) == expected(lines)
    assert result.ratings_inserted == 2_000 and result.ratings_skipped == 0
    assert result.lines_refused == len(bad_at) and result.refused_report == report
    reasons = {2 + 97 * i: reason for i, (_, reason) in enumerate(BAD)}
    reasons[3] = "expected 3 fields, found 4"
    assert refused_rows(report) == [
        (
            "ratings.csv",
            number,
            reasons[number],
            bad_at[number] if isinstance(bad_at[number], str) else "1,2,\\xe9",
        )
        for number in sorted(bad_at)
    ]
    assert f"Refused {len(bad_at)} invalid line(s), each with its reason in {report}" in (
        result.summary()
    )
    # Readers come from good lines only ("9999999999" and "0" are not readers).
    assert counts(engine)["app_user"] == len({u for u, _, _ in expected(lines)})


@pytest.mark.parametrize(
    "bad_line",
    [2, CHUNK, CHUNK + 1, CHUNK + 2, 3 * CHUNK + 1, 501],
    ids=[
        "first",
        "before-last-of-chunk",
        "last-of-chunk",
        "first-of-next",
        "later-boundary",
        "last",
    ],
)
@pytest.mark.usefixtures("narrowing")
def test_bad_line_at_a_chunk_boundary(engine: Engine, tmp_path: Path, bad_line: int) -> None:
    # Chunks after the header: lines 2..101, 102..201, ...; 500 lines in all, the last is 501.
    lines = with_bad_lines(499, {bad_line: "1,1,6"})
    directory = goodbooks(tmp_path, lines)

    with pytest.raises(ImportFailed, match=rf"^ratings\.csv line {bad_line}: rating '6'"):
        import_goodbooks(engine, directory, progress=False, options=SMALL_CHUNKS)
    assert counts(engine)["rating"] == 0

    report = tmp_path / "refused.csv"
    result = import_goodbooks(
        engine,
        directory,
        progress=False,
        options=skipping(report),
    )
    assert result.ratings_inserted == 499
    assert stored_ratings(engine) == expected(lines)
    assert refused_rows(report) == [
        ("ratings.csv", bad_line, "rating '6' is not between 1 and 5", "1,1,6")
    ]


def test_blank_lines_and_crlf_keep_their_line_numbers(engine: Engine, tmp_path: Path) -> None:
    lines: list[str | bytes] = [good_line(i) + "\r" for i in range(250)]
    lines[120:120] = ["", "", "2,2,x\r"]  # blank lines 122 and 123, the bad line is 124
    report = tmp_path / "refused.csv"
    result = import_goodbooks(
        engine, goodbooks(tmp_path, lines), progress=False, options=skipping(report),
    )  # fmt: skip
    assert result.ratings_inserted == 250
    assert refused_rows(report) == [("ratings.csv", 124, "rating 'x' is not a number", "2,2,x")]


def test_a_pair_repeated_across_chunks_keeps_its_first_line(engine: Engine, tmp_path: Path) -> None:
    lines: list[str | bytes] = [good_line(i) for i in range(300)]
    lines.append("1,1,1")  # reader 1 rated book 1 on line 2 (stars 1) ... and here again
    lines.insert(0, "1,1,4")  # now line 2: the first line of the pair
    result = import_goodbooks(
        engine, goodbooks(tmp_path, lines), progress=False, options=SMALL_CHUNKS
    )
    with engine.connect() as conn:
        stars = conn.execute(
            sa.text("SELECT half_stars FROM rating WHERE user_id = 1 AND book_id = 1")
        ).scalar_one()
    assert stars == 8
    # good_line(0) is "1,1,1" too: three lines of the pair, one row.
    assert (result.ratings_inserted, result.ratings_skipped) == (300, 2)


def test_reimport_with_skip_invalid_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    lines = with_bad_lines(700, {150: "1,1,9", 650: "nonsense"})
    directory = goodbooks(tmp_path, lines)
    first = import_goodbooks(engine, directory, False, skipping(tmp_path / "1.csv"))
    after_first = counts(engine)

    second = import_goodbooks(engine, directory, False, skipping(tmp_path / "2.csv"))

    assert counts(engine) == after_first
    assert (second.books_inserted, second.users_inserted, second.ratings_inserted) == (0, 0, 0)
    assert second.ratings_skipped == first.ratings_inserted == 700
    assert second.users_skipped == first.users_inserted
    assert refused_rows(tmp_path / "1.csv") == refused_rows(tmp_path / "2.csv")
    assert [r[1] for r in refused_rows(tmp_path / "2.csv")] == [150, 650]


def test_a_failed_import_removes_its_report(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:  # reader 3's id belongs to someone else
        conn.execute(
            sa.text(
                "INSERT INTO app_user (id, username, username_key, created_at) VALUES (3, 'eve', 'eve', :now)"
            ),
            {"now": datetime.now(UTC)},
        )
    report = tmp_path / "refused.csv"
    lines = with_bad_lines(300, {5: "1,1,9"})
    with pytest.raises(ImportFailed, match=r"user id 3 is already 'eve'"):
        import_goodbooks(
            engine, goodbooks(tmp_path, lines), progress=False, options=skipping(report),
        )  # fmt: skip
    assert counts(engine) == {**dict.fromkeys(TABLES, 0), "app_user": 1}
    assert not report.exists()


def test_movielens_timestamps_and_skip_invalid(engine: Engine, tmp_path: Path) -> None:
    directory = tmp_path / "ml"
    directory.mkdir()
    (directory / "movies.csv").write_text(
        "movieId,title,genres\n1,A (1990),Drama\n2,B (1991),Comedy\n"
    )
    (directory / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,1,4.5,964982703\n1,2,4.25,964982704\n"
        "2,2,0.5,yesterday\n2,1,0.5,847434962\n"
    )
    report = tmp_path / "refused.csv"
    result = import_movielens(
        engine, directory, progress=False, options=skipping(report, lines=100_000)
    )

    assert stored_ratings(engine) == {(1, 1, 9), (2, 1, 1)}
    assert [r[1:3] for r in refused_rows(report)] == [
        (3, "rating '4.25' is not between 0.5 and 5 in half steps"),
        (4, "timestamp 'yesterday' is not an integer"),
    ]
    assert result.lines_refused == 2
    with engine.connect() as conn:
        table = sa.table(
            "rating", sa.column("user_id"), sa.column("created_at", sa.DateTime(timezone=True))
        )
        stamp = conn.execute(sa.select(table.c.created_at).where(table.c.user_id == 2)).scalar_one()
    assert stamp.replace(tzinfo=stamp.tzinfo or UTC) == datetime.fromtimestamp(847434962, UTC)


def test_progress_bar_only_when_asked(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = goodbooks(tmp_path, [good_line(i) for i in range(300)])
    import_goodbooks(engine, directory, progress=False, options=SMALL_CHUNKS)
    assert capsys.readouterr().err == ""
    import_goodbooks(engine, directory, progress=True, options=SMALL_CHUNKS)
    err = capsys.readouterr().err
    assert "ratings.csv" in err and "300 ratings" in err


# --------------------------------------------------------------------------- the command line


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BOOKREC_DATABASE_URL", database_url)
    monkeypatch.setenv("BOOKREC_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("BOOKREC_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("BOOKREC_LOG_LEVEL", "WARNING")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_cli_strict_then_skip_invalid(
    cli_env: Path, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = goodbooks(cli_env, with_bad_lines(400, {77: "1,x,5", 301: "2,3"}))

    with pytest.raises(SystemExit, match=r"ratings\.csv line 77: book_id 'x' is not an integer"):
        main(["import", "goodbooks", str(directory)])
    assert counts(engine) == dict.fromkeys(TABLES, 0)

    with pytest.raises(SystemExit, match="add --skip-invalid"):
        main(["import", "goodbooks", str(directory), "--report", "r.csv"])

    main(["import", "goodbooks", str(directory), "--skip-invalid"])
    out = capsys.readouterr().out
    (report,) = cli_env.glob("bookrec-refused-goodbooks-*.csv")  # the default: current dir
    assert (
        "ratings 400 new" in out
        and f"Refused 2 invalid line(s), each with its reason in {report}" in out
    )
    assert [r[1:] for r in refused_rows(report)] == [
        (77, "book_id 'x' is not an integer", "1,x,5"),
        (301, "expected 3 fields, found 2", "2,3"),
    ]
    assert counts(engine)["rating"] == 400

    main(["import", "goodbooks", str(directory), "--skip-invalid", "--report", "again.csv"])
    assert "ratings 0 new, 400 already present" in capsys.readouterr().out
    assert len(refused_rows(cli_env / "again.csv")) == 2
