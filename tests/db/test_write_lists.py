"""`write_lists` writes a batch as a few INSERTs of many rows each: every value must be
stored as SQLAlchemy's own insert stores it (types processed by the column's own
processors), every row of a batch of any size arrives, a repeated write changes nothing, and
a failing batch writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from db.lists import write_lists
from db.models import RecList, RecListItem
from tests.support.api import seed_reader

LISTS = RecList.__table__  # type: ignore[attr-defined]
ITEMS = RecListItem.__table__  # type: ignore[attr-defined]
MADE = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


def _header(list_id: str, **extra: object) -> dict[str, object]:
    return {"id": list_id, "user_id": 1, "kind": "recommendations", "created_at": MADE, **extra}


def _items(list_id: str, served: datetime, scores: list[float]) -> list[dict[str, object]]:
    return [
        {
            "list_id": list_id,
            "position": p,
            "book_id": p + 1,
            "source": "MODEL" if p else "POPULAR",
            "score": score,
            "served_at": served,
        }
        for p, score in enumerate(scores)
    ]


def _stored(engine: sa.Engine, list_id: str, as_text: bool = False) -> tuple[tuple, list[tuple]]:  # type: ignore[type-arg]
    """A list's header and items as read back; `as_text`: every value as the database
    holds it, cast to text (a datetime stored in another format would differ)."""

    def columns(table: sa.Table, key: str) -> list[sa.ColumnElement]:  # type: ignore[type-arg]
        return [sa.cast(c, sa.Text) if as_text else c for c in table.columns if c.name != key]

    with engine.connect() as conn:
        header = conn.execute(sa.select(*columns(LISTS, "id")).where(LISTS.c.id == list_id)).one()
        items = conn.execute(
            sa.select(*columns(ITEMS, "list_id"))
            .where(ITEMS.c.list_id == list_id)
            .order_by(ITEMS.c.position)
        ).all()
    return tuple(header), [tuple(i) for i in items]


@pytest.fixture
def engine_with_reader(engine: sa.Engine) -> sa.Engine:
    seed_reader(engine)
    return engine


def test_values_are_stored_as_sqlalchemys_insert_stores_them(
    engine_with_reader: sa.Engine,
) -> None:
    engine = engine_with_reader
    later = MADE + timedelta(seconds=1)
    extra = {"diversity": 0.3, "model_version": "v0007", "variant": "b", "category_id": 2}
    scores = [1.25, -0.5, 3.141592653589793]
    with engine.begin() as conn:  # the reference: SQLAlchemy's own insert
        conn.execute(sa.insert(LISTS), [_header("by-sqlalchemy", **extra)])
        conn.execute(sa.insert(ITEMS), _items("by-sqlalchemy", later, scores))
    write_lists(engine, [_header("by-driver", **extra)], _items("by-driver", later, scores))

    assert _stored(engine, "by-driver") == _stored(engine, "by-sqlalchemy")
    assert _stored(engine, "by-driver", True) == _stored(engine, "by-sqlalchemy", True)
    header, items = _stored(engine, "by-driver")
    assert header[-1].replace(tzinfo=UTC) == MADE  # SQLite hands back naive UTC
    assert [i[-1].replace(tzinfo=UTC) for i in items] == [later] * 3
    assert [i[3] for i in items] == scores


@pytest.mark.parametrize("lists", [1, 3, 11, 37])
def test_every_row_of_a_batch_of_any_size_is_written_once(
    engine_with_reader: sa.Engine, lists: int
) -> None:
    """Batches that take every statement size (100, 25, 5 and 1 rows) and sums of them:
    37 headers and 37 x 7 = 259 items are 100 + 100 + 25 + 25 + 5 + 1 + 1 + 1 + 1 rows."""
    engine = engine_with_reader
    headers = [_header(f"list-{n}", diversity=n / 100) for n in range(lists)]
    items = [
        {**item, "book_id": (n + item["position"]) % 5 + 1}  # type: ignore[operator]
        for n in range(lists)
        for item in _items(f"list-{n}", MADE, [n + p / 10 for p in range(7)])
    ]
    write_lists(engine, headers, items)
    write_lists(engine, headers, items)  # written again: nothing changes, nothing doubles
    with engine.connect() as conn:
        stored_headers = conn.execute(sa.select(LISTS.c.id, LISTS.c.diversity)).all()
        stored_items = conn.execute(
            sa.select(ITEMS.c.list_id, ITEMS.c.position, ITEMS.c.book_id, ITEMS.c.score)
        ).all()
    assert sorted(stored_headers) == sorted((h["id"], h["diversity"]) for h in headers)
    assert sorted(stored_items) == sorted(
        (i["list_id"], i["position"], i["book_id"], i["score"]) for i in items
    )


def test_left_out_columns_get_their_defaults_and_a_rewrite_changes_nothing(
    engine_with_reader: sa.Engine,
) -> None:
    engine = engine_with_reader
    write_lists(engine, [_header("plain")], _items("plain", MADE, [1.0]))
    write_lists(engine, [_header("plain", variant="b")], _items("plain", MADE, [9.0]))
    header, items = _stored(engine, "plain")
    assert header[4] == 0.0 and header[6] is None  # diversity's server default; no variant
    assert [i[3] for i in items] == [1.0]  # ON CONFLICT DO NOTHING: the first write stays


def test_a_batch_that_fails_writes_nothing(engine_with_reader: sa.Engine) -> None:
    engine = engine_with_reader
    bad = _items("half", MADE, [1.0, 2.0])
    bad[1]["book_id"] = 999_999  # no such book: the foreign key refuses the batch
    with pytest.raises(sa.exc.IntegrityError):
        write_lists(engine, [_header("half")], bad)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(LISTS)).scalar_one() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(ITEMS)).scalar_one() == 0
    with pytest.raises(ValueError, match="no column"):
        write_lists(engine, [_header("odd", colour="red")], [])
