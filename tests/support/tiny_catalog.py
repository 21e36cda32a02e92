"""A tiny catalog with two clear tastes, and real models trained on it, shared by the tests
that need a model (training takes seconds, so it is done once per test session)."""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa

from db.engine import advance_sequences, make_engine
from db.schema_setup import upgrade

FANTASY, MYSTERY = range(1, 13), range(13, 25)
NEW_BOOKS = (25, 26)  # added after training: only the fallbacks know them
MOST_LIKED = 20  # the most liked mystery


def populate(engine: sa.Engine, with_ratings: bool = True) -> None:
    """Readers 1-20 love fantasy (books 1-12), readers 21-40 love mystery (13-24)."""
    rng = np.random.default_rng(7)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO category (id, name) VALUES (1, 'Fantasy'), (2, 'Mystery'), (3, 'Poetry')"
            )
        )
        for book in [*FANTASY, *MYSTERY, *NEW_BOOKS]:
            conn.execute(
                sa.text("INSERT INTO book (id, title, like_count) VALUES (:i, :t, :l)"),
                {"i": book, "t": f"Book {book}", "l": 9 if book == MOST_LIKED else 0},
            )
            category = 1 if book in FANTASY or book == 25 else 2
            conn.execute(
                sa.text("INSERT INTO book_category VALUES (:b, :c)"), {"b": book, "c": category}
            )
        if with_ratings:
            for user in range(1, 41):
                conn.execute(
                    sa.text(
                        "INSERT INTO app_user (id, username, username_key, created_at) "
                        "VALUES (:i, :n, :n, CURRENT_TIMESTAMP)"
                    ),
                    {"i": user, "n": f"reader-{user}"},
                )
                liked, other = (FANTASY, MYSTERY) if user <= 20 else (MYSTERY, FANTASY)
                picks = [
                    *rng.choice(list(liked), 8, replace=False),
                    *rng.choice(list(other), 2, replace=False),
                ]
                for book in picks:
                    half = int(rng.integers(8, 11)) if book in liked else int(rng.integers(2, 5))
                    conn.execute(
                        sa.text(
                            "INSERT INTO rating VALUES (:u, :b, :h, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                        ),
                        {"u": user, "b": int(book), "h": half},
                    )
        advance_sequences(conn)


def create_database(url: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    try:
        populate(engine)
    finally:
        engine.dispose()
