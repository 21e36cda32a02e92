"""`bookrec prune`: old lists go with their items and opens, in bounded batches; newer
lists, and every rating, stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.cli import main
from db.lists import prune_lists, write_lists
from tests.support.api import seed_reader

NOW = datetime.now(UTC)


def seed_lists(engine: sa.Engine) -> None:
    seed_reader(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO rating VALUES (1, 1, 8, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
        )
    headers, items = [], []
    for n, age_days in enumerate([400, 300, 200, 10, 1]):
        made = NOW - timedelta(days=age_days)
        headers.append(
            {"id": f"list-{n}", "user_id": 1, "kind": "recommendations", "created_at": made}
        )
        items += [
            {
                "list_id": f"list-{n}",
                "position": p,
                "book_id": p + 1,
                "source": "MODEL",
                "score": 1.0,
                "served_at": made,
            }
            for p in range(3)
        ]
    write_lists(engine, headers, items)
    with engine.begin() as conn:
        for n in range(5):
            conn.execute(
                sa.text(
                    "INSERT INTO rec_list_open (list_id, book_id, position, user_id, opened_at)"
                    " VALUES (:l, 1, 0, 1, CURRENT_TIMESTAMP)"
                ),
                {"l": f"list-{n}"},
            )


def counts(engine: sa.Engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("rec_list", "rec_list_item", "rec_list_open", "rating")
        )


def test_prune_deletes_old_lists_in_batches(engine: sa.Engine) -> None:
    seed_lists(engine)
    pruned = prune_lists(engine, NOW - timedelta(days=100), batch=2)  # two transactions
    assert (pruned.lists, pruned.items, pruned.opens) == (3, 9, 3)
    assert counts(engine) == (2, 6, 2, 1)
    assert prune_lists(engine, NOW - timedelta(days=100)).lists == 0


def test_prune_command(
    engine: sa.Engine, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seed_lists(engine)
    monkeypatch.setenv("BOOKREC_DATABASE_URL", database_url)
    monkeypatch.setenv("BOOKREC_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("BOOKREC_IMPRESSION_RETENTION_DAYS", "250")
    main(["prune"])  # the setting: lists over 250 days old
    assert counts(engine) == (3, 9, 3, 1)
    main(["prune", "--older-than", "5"])
    assert counts(engine) == (1, 3, 1, 1)
    with pytest.raises(SystemExit, match="must not be negative"):
        main(["prune", "--older-than", "-1"])
