"""What bench/load.py checks after the load: every acknowledged write is in the database.

The ledger keeps, per (table, reader, book), the last acknowledged value and the values of
later writes whose outcome is unknown; `verify` compares it with the rows once the server
has stopped. Also the PostgreSQL database the load runs in (created, dropped)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from _httpx_driver import Outcome
from _script import log


@dataclass
class Write:
    reader: int
    book: int
    table: str  # "rating" | "feedback"
    value: Any  # half stars / feedback kind; None = no row


@dataclass
class Ledger:
    """Per (table, reader, book): the last acknowledged value, and the values of later writes
    whose outcome is unknown."""

    acked: dict[tuple[str, int, int], Any] = field(default_factory=dict)
    unknown: dict[tuple[str, int, int], set[Any]] = field(default_factory=lambda: defaultdict(set))
    n_acked: int = 0
    n_failed: int = 0

    def record(self, outcome: Outcome) -> None:
        write = outcome.request.meta
        if not isinstance(write, Write):
            return
        key = (write.table, write.reader, write.book)
        if outcome.ok:
            self.acked[key] = write.value
            self.unknown.pop(key, None)
            self.n_acked += 1
        else:
            # Refused (e.g. an error) or unanswered: it may or may not have been committed.
            self.unknown[key].add(write.value)
            self.n_failed += 1


# --------------------------------------------------------------------------- databases


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql", "postgres:"))


def ensure_postgres_database(url: str) -> bool:
    """Create the URL's database if it does not exist; True if this call created it."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://"))
    name = parts.path.lstrip("/")
    if not name:
        raise SystemExit("--database-url must name a database")
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    log(f"created PostgreSQL database {name}")
    return True


def drop_postgres_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://"))
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(parts.path.lstrip("/")))
        )
    log(f"dropped PostgreSQL database {parts.path.lstrip('/')}")


def verify(database_url: str, ledger: Ledger, reader_ids: list[int]) -> tuple[bool, list[str]]:
    import sqlalchemy as sa

    from db.engine import make_engine

    engine = make_engine(database_url)
    lines: list[str] = []
    try:
        with engine.connect() as conn:
            ids: sa.BindParameter[list[int]] = sa.bindparam("ids", expanding=True)
            rows = {
                ("rating", u, b): h
                for u, b, h in conn.execute(
                    sa.text(
                        "SELECT user_id, book_id, half_stars FROM rating WHERE user_id IN :ids"
                    ).bindparams(ids),
                    {"ids": reader_ids},
                )
            }
            rows.update(
                {
                    ("feedback", u, b): k
                    for u, b, k in conn.execute(
                        sa.text(
                            "SELECT user_id, book_id, kind FROM feedback WHERE user_id IN :ids"
                        ).bindparams(ids),
                        {"ids": reader_ids},
                    )
                }
            )
            like_drift = conn.execute(
                sa.text(
                    "SELECT count(*) FROM book b WHERE b.like_count <> (SELECT count(*) FROM feedback f "
                    "WHERE f.book_id = b.id AND f.kind = 'liked')"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    keys = set(ledger.acked) | set(ledger.unknown)
    checked = matched = uncertain = 0
    wrong: list[str] = []
    for key in sorted(keys):
        actual = rows.get(key)
        # Registered readers start with no rows: before any acknowledged write, "no row" holds.
        allowed = {ledger.acked[key]} if key in ledger.acked else {None}
        allowed |= ledger.unknown.get(key, set())
        checked += key in ledger.acked
        uncertain += key in ledger.unknown
        if actual not in allowed:
            wrong.append(
                f"{key}: database {actual!r}, acknowledged {ledger.acked.get(key)!r}, "
                f"unknown outcomes {sorted(map(str, ledger.unknown.get(key, set())))}"
            )
        elif key in ledger.acked and key not in ledger.unknown:
            matched += 1
    strays = sorted(set(rows) - keys)
    ok = not wrong and not strays
    n_rating = sum(1 for k in ledger.acked if k[0] == "rating")
    lines.append(f"acknowledged writes: {ledger.n_acked} ok, {ledger.n_failed} failed/unanswered")
    lines.append(
        f"keys checked: {checked} ({n_rating} rating, {checked - n_rating} like/dislike); "
        f"equal to the last acknowledged write: {matched}; uncertain (a failed write last): "
        f"{uncertain}; wrong: {len(wrong)}; rows no write made: {len(strays)}"
    )
    lines.append(f"books whose like_count differs from their 'liked' rows: {like_drift}")
    for line in (wrong + [f"stray row {s}: {rows[s]!r}" for s in strays])[:10]:
        lines.append("  " + line)
    return ok, lines


# --------------------------------------------------------------------------- report
