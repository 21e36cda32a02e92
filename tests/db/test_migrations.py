"""Alembic creates exactly the tables of db/models.py, and migrates both ways."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from alembic import command
from db.engine import make_engine
from db.schema_setup import alembic_config, downgrade, upgrade

TABLES = {
    "app_user",
    "book",
    "book_category",
    "catalog_state",
    "category",
    "feedback",
    "login_throttle",
    "model_blob",
    "model_file",
    "model_pointer",
    "model_switch",
    "model_version",
    "rating",
    "rec_list",
    "rec_list_item",
    "rec_list_open",
    "experiment",
    "training_run",
    "user_category",
    "worker_lease",
}


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_and_no_drift(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    assert _tables(empty_database_url) == TABLES
    downgrade(empty_database_url)
    assert _tables(empty_database_url) == set()
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    finally:
        engine.dispose()
    assert diff == []
    command.check(alembic_config(empty_database_url))  # raises if autogenerate sees changes


def test_constraints_hold_when_the_orm_is_bypassed(engine: sa.Engine) -> None:
    import pytest

    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO book (id, title) VALUES (1, 'B')"))
        conn.execute(
            sa.text(
                "INSERT INTO app_user (id, username, username_key, created_at) VALUES (1, 'Ann', 'ann', CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            sa.text("INSERT INTO rating VALUES (1, 1, 4, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
        )
    bad = [
        "INSERT INTO rating VALUES (1, 1, 5, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",  # duplicate
        "INSERT INTO rating VALUES (1, 2, 5, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",  # orphan book
        "INSERT INTO rating VALUES (2, 1, 5, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",  # orphan user
        "UPDATE rating SET half_stars = 11",
        "UPDATE rating SET half_stars = 0",
        "INSERT INTO app_user (username, username_key, created_at) VALUES ('ANN', 'ann', CURRENT_TIMESTAMP)",
        "INSERT INTO app_user (username, username_key, created_at) VALUES ('Bob', 'Bob', CURRENT_TIMESTAMP)",
        "INSERT INTO feedback VALUES (1, 1, 'meh', CURRENT_TIMESTAMP)",
        "UPDATE book SET like_count = -1",
        "INSERT INTO category (name) VALUES ('')",
    ]
    for statement in bad:
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(sa.text(statement))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT half_stars FROM rating")).scalars().all() == [4]
