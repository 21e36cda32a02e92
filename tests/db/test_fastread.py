"""The hot read path (db.fastread): statements compiled by SQLAlchemy, run on the DB-API
cursor. The same answers as through SQLAlchemy, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from db import catalog, readers
from db.fastread import FastReads, Prepared
from db.models import (
    FEEDBACK_DISLIKED,
    FEEDBACK_LIKED,
    Book,
    Category,
    Feedback,
    Rating,
    User,
    UserCategory,
)


@pytest.fixture
def populated(engine: sa.Engine) -> sa.Engine:
    with Session(engine) as session:
        session.add_all(
            [
                User(id=1, username="ann", username_key="ann"),
                User(id=2, username="bob", username_key="bob"),
                Category(id=1, name="Fantasy"),
                Category(id=2, name="Mystery"),
                *(
                    Book(id=b, title=f"Book {b}", authors=f"Author {b}", year=2000 + b)
                    for b in range(1, 8)
                ),
            ]
        )
        session.flush()
        session.add_all(
            [
                Rating(user_id=1, book_id=1, half_stars=9),
                Rating(user_id=1, book_id=2, half_stars=4),
                Rating(user_id=2, book_id=3, half_stars=10),
                Feedback(user_id=1, book_id=5, kind=FEEDBACK_DISLIKED),
                Feedback(user_id=1, book_id=6, kind=FEEDBACK_LIKED),
                Feedback(user_id=2, book_id=7, kind=FEEDBACK_DISLIKED),
                UserCategory(user_id=1, category_id=2),
            ]
        )
        session.commit()
    return engine


def test_reader_state_is_one_readers_history_dislikes_and_categories(
    populated: sa.Engine,
) -> None:
    with FastReads.open(populated) as db:
        ann = readers.reader_state(db, 1)
        bob = readers.reader_state(db, 2)
        nobody = readers.reader_state(db, 99)
    assert ann is not None and bob is not None
    history, disliked, categories = ann
    assert sorted(history) == [(1, 4.5), (2, 2.0)]
    assert disliked == {5}  # a liked book is not a dislike
    assert categories == {2}
    assert bob == ([(3, 5.0)], {7}, set())
    assert nobody is None


@pytest.mark.parametrize("ids", [[4], [1, 2, 3], [7, 1, 7, 99, 3], [99], list(range(1, 8))])
def test_book_rows_match_the_orm(populated: sa.Engine, ids: list[int]) -> None:
    with FastReads.open(populated) as db:
        rows = catalog.book_rows_by_ids(db, ids)
    with Session(populated) as session:
        books = catalog.books_by_ids(session, ids)
        expected = {
            b.id: tuple(getattr(b, f) for f in catalog.BookRow._fields) for b in books.values()
        }
    assert {k: tuple(v) for k, v in rows.items()} == expected
    assert set(rows) == set(ids) - {99}
    assert all(rows[i].title == f"Book {i}" for i in rows)


def test_a_fast_read_leaves_no_transaction_behind(populated: sa.Engine) -> None:
    """The connection goes back to the pool rolled back: a later writer on the same pooled
    connection starts clean, and what it commits is what the next fast read sees."""
    for _ in range(3):
        with FastReads.open(populated) as db:
            before = readers.reader_state(db, 2)
        with populated.begin() as conn:
            conn.execute(sa.update(Rating).where(col(Rating.user_id) == 2).values(half_stars=2))
        with FastReads.open(populated) as db:
            after = readers.reader_state(db, 2)
        assert before is not None and after is not None
        assert after[0] == [(3, 1.0)]
        with populated.begin() as conn:
            conn.execute(sa.update(Rating).where(col(Rating.user_id) == 2).values(half_stars=10))


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.psycopg.dialect()])
def test_in_lists_of_each_length_compile_once_and_keep_their_literals(dialect: sa.Dialect) -> None:
    table = Book.__table__  # type: ignore[attr-defined]
    stmt = sa.select(table.c.id).where(
        table.c.id.in_(sa.bindparam("ids", expanding=True)), table.c.like_count >= 3
    )
    prepared = Prepared(stmt)
    three = prepared.compiled(dialect, {"ids": [1, 2, 3]})
    assert prepared.compiled(dialect, {"ids": [7, 8, 9]}) is three
    assert prepared.compiled(dialect, {"ids": [1]}) is not three
    arguments = prepared.arguments(three, {"ids": [7, 8, 9]})
    values = list(arguments) if three.positional else list(arguments.values())
    assert sorted(values) == [3, 7, 8, 9]


def test_statements_that_need_type_conversion_are_refused() -> None:
    """SQLite returns timestamps as text: SQLAlchemy converts them, the raw cursor would not."""
    with pytest.raises(TypeError, match="created_at"):
        Prepared(sa.select(col(Rating.created_at))).compiled(sqlite.dialect(), {})


def test_a_stored_list_reads_back_on_the_fast_path(populated: sa.Engine) -> None:
    """What a continuation reads once the recorder has written the list (both drivers read
    `diversity`, a float, as it is)."""
    from datetime import UTC, datetime

    from db import lists

    now = datetime.now(UTC)
    header = {
        "id": "L1", "user_id": 1, "kind": "recommendations", "anchor_book_id": None,
        "category_id": 2, "diversity": 0.3, "model_version": "v0001", "variant": None,
        "created_at": now,
    }  # fmt: skip
    items = [
        {
            "list_id": "L1",
            "position": i,
            "book_id": b,
            "source": "MODEL",
            "score": 0.5,
            "served_at": now,
        }
        for i, b in enumerate([3, 1, 2])
    ]
    lists.write_lists(populated, [header], items[2:] + items[:2])  # a later position first
    lists.write_lists(populated, [header], items)  # written twice (a retried batch): no change
    with FastReads.open(populated) as db:
        assert lists.list_header(db, "L1") == {
            "user_id": 1, "kind": "recommendations", "anchor_book_id": None,
            "category_id": 2, "diversity": 0.3,
        }  # fmt: skip
        assert lists.shown_books(db, "L1") == [(0, 3), (1, 1), (2, 2)]  # in position order
        assert lists.list_header(db, "missing") is None


def test_a_continued_lists_stored_positions_are_each_read_once(
    populated: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ShownBooks keeps a list's positions 0..n-1 once read and reads only those after them;
    one stored past a gap is returned but not kept, so the gap is read again until filled;
    over its bound it drops the list continued longest ago, which is then read in full."""
    from datetime import UTC, datetime

    from db import lists

    now = datetime.now(UTC)

    def write(list_id: str, books: dict[int, int]) -> None:
        header = {
            "id": list_id, "user_id": 1, "kind": "recommendations", "anchor_book_id": None,
            "category_id": None, "diversity": 0.0, "model_version": "v0001", "variant": None,
            "created_at": now,
        }  # fmt: skip
        items = [
            {"list_id": list_id, "position": p, "book_id": b, "source": "MODEL", "score": 0.5,
             "served_at": now}
            for p, b in books.items()
        ]  # fmt: skip
        lists.write_lists(populated, [header], items)

    starts: list[tuple[str, int, int]] = []  # (list, first position asked, rows read)
    read_rows = lists.shown_books

    def counted(db: FastReads, list_id: str, start: int = 0) -> list[tuple[int, int]]:
        rows = read_rows(db, list_id, start)
        starts.append((list_id, start, len(rows)))
        return rows

    monkeypatch.setattr(lists, "shown_books", counted)
    shown = lists.ShownBooks(max_books=8)

    def read(list_id: str) -> tuple[list[int], list[tuple[int, int]]]:
        with FastReads.open(populated) as db:
            return shown.read(db, list_id)

    write("L1", {0: 3, 1: 1, 2: 2})
    assert read("L1") == ([3, 1, 2], [])
    write("L1", {3: 5, 4: 4, 6: 7})  # position 5 not there yet (another server's write)
    assert read("L1") == ([3, 1, 2, 5, 4], [(6, 7)])
    assert read("L1") == ([3, 1, 2, 5, 4], [(6, 7)])
    write("L1", {5: 6})
    assert read("L1") == ([3, 1, 2, 5, 4, 6, 7], [])
    assert starts == [("L1", 0, 3), ("L1", 3, 3), ("L1", 5, 1), ("L1", 5, 2)]
    assert read("missing") == ([], [])

    write("L2", {0: 1, 1: 2})
    starts.clear()
    assert read("L2") == ([1, 2], [])  # 7 + 2 positions kept: over 8, L1 is dropped
    assert len(shown) == 1  # only L2 ("missing" had nothing stored: nothing kept)
    assert read("L1") == ([3, 1, 2, 5, 4, 6, 7], [])  # read in full again (and L2 dropped)
    assert read("L2") == ([1, 2], [])
    assert starts == [("L2", 0, 2), ("L1", 0, 7), ("L2", 0, 2)]
