"""Crash safety: `kill -9` the server while several clients stream ratings, restart it on
the same database, and find every acknowledged rating with its acknowledged value.

SQLite runs in WAL mode with synchronous=FULL (db/engine.py), so a transaction whose
COMMIT returned is in the WAL on disk before the response is written; PostgreSQL commits
durably on its side. A write whose response never arrived may or may not have committed:
for such a key either value is allowed, nothing else.

Sizes: BOOKREC_RELIABILITY_CRASH_CLIENTS (16), _CRASH_BOOKS (100),
_CRASH_AFTER_ACKS (500 acknowledged writes before the kill), _CRASH_ROUNDS (2).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.reliability.conftest import Client, async_client, knob, seed, token_for

pytestmark = pytest.mark.slow

RATE = "mutation($b: ID!, $s: Float!) { rateBook(bookId: $b, stars: $s) { stars } }"
MY_RATINGS = (
    "query($after: String) { me { ratings(first: 100, after: $after) {"
    " totalCount edges { node { stars book { id } } } pageInfo { hasNextPage endCursor } } } }"
)


@dataclass
class Ledger:
    """What the clients know: per (reader, book), the values the row may hold now."""

    possible: dict[tuple[int, int], set[float]] = field(default_factory=dict)
    acknowledged: int = 0
    unanswered: list[tuple[tuple[int, int], float]] = field(default_factory=list)

    def acked(self, key: tuple[int, int], stars: float) -> None:
        self.possible[key] = {stars}
        self.acknowledged += 1

    def unknown(self, key: tuple[int, int], stars: float) -> None:
        self.possible.setdefault(key, {None}).add(stars)  # type: ignore[arg-type]
        self.unanswered.append((key, stars))  # sent, no response: committed or not, unknown


async def _stream_until_killed(
    server: Any, ledger: Ledger, clients: int, n_books: int, kill_after: int, round_no: int
) -> dict[str, int]:
    """Each client rates its reader's books one after another (one write in flight per
    client, so per key the order of writes is known) until the server dies."""
    start_acks = ledger.acknowledged
    dying = asyncio.Event()  # set just before the SIGKILL: transport errors are expected
    errors: list[str] = []

    async with async_client(server, connections=clients) as http:
        client = Client(http)

        async def stream(reader: int) -> None:
            i = 0
            while True:
                book = (i % n_books) + 1
                stars = ((reader + i + round_no * 3) % 10 + 1) / 2
                outcome = await client.post(RATE, {"b": str(book), "s": stars}, token_for(reader))
                if outcome.transport_error is not None:
                    if not dying.is_set():
                        errors.append(outcome.describe())
                    ledger.unknown((reader, book), stars)
                    return
                if not outcome.ok:
                    errors.append(outcome.describe())
                    return
                assert outcome.body is not None
                assert outcome.body["data"]["rateBook"]["stars"] == stars
                ledger.acked((reader, book), stars)
                i += 1

        async def killer() -> None:
            deadline = time.monotonic() + 120
            while ledger.acknowledged - start_acks < kill_after and time.monotonic() < deadline:
                if errors:
                    return
                await asyncio.sleep(0.005)
            dying.set()
            await asyncio.to_thread(server.kill)  # SIGKILL, mid-stream

        kill_task = asyncio.create_task(killer())
        await asyncio.gather(*(stream(r) for r in range(1, clients + 1)))
        await kill_task
    assert not errors, errors[:5]
    return {"acked": ledger.acknowledged - start_acks}


async def _stored_through_api(server: Any, readers: int) -> dict[tuple[int, int], float]:
    stored: dict[tuple[int, int], float] = {}
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        for reader in range(1, readers + 1):
            after = None
            while True:
                response = await http.post(
                    "/graphql",
                    json={"query": MY_RATINGS, "variables": {"after": after}},
                    headers={"Authorization": f"Bearer {token_for(reader)}"},
                )
                body = response.json()
                assert response.status_code == 200 and not body.get("errors"), body
                page = body["data"]["me"]["ratings"]
                for edge in page["edges"]:
                    stored[(reader, int(edge["node"]["book"]["id"]))] = edge["node"]["stars"]
                if not page["pageInfo"]["hasNextPage"]:
                    break
                after = page["pageInfo"]["endCursor"]
    return stored


def _check_database_files(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        return
    path = sa.make_url(database_url).database
    assert path
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        conn.close()


async def test_acknowledged_ratings_survive_kill_9(
    database_url: str, engine: sa.Engine, model_dir: Path, server_factory: Any
) -> None:
    clients, n_books = knob("CRASH_CLIENTS", 16), knob("CRASH_BOOKS", 100)
    kill_after, rounds = knob("CRASH_AFTER_ACKS", 500), knob("CRASH_ROUNDS", 2)
    seed(engine, n_readers=clients, n_books=n_books)
    engine.dispose()  # the server owns the database while it runs
    ledger = Ledger()
    report = []
    for round_no in range(rounds):
        server = server_factory(database_url, model_dir).start()
        figures = await _stream_until_killed(server, ledger, clients, n_books, kill_after, round_no)
        assert figures["acked"] >= min(kill_after, 50), figures  # it really was mid-stream

        restarted = server_factory(database_url, model_dir).start()  # recovers the WAL
        stored = await _stored_through_api(restarted, clients)
        restarted.stop()
        _check_database_files(database_url)

        lost = {k: v for k, v in ledger.possible.items() if None not in v and k not in stored}
        wrong = {
            k: (stored[k], v)
            for k, v in ledger.possible.items()
            if k in stored and stored[k] not in v
        }
        unexpected = set(stored) - set(ledger.possible)
        assert not lost, f"{len(lost)} acknowledged ratings lost, e.g. {list(lost.items())[:5]}"
        assert not wrong, (
            f"{len(wrong)} ratings hold a value never sent last, e.g. {list(wrong.items())[:5]}"
        )
        assert not unexpected, f"rows nobody wrote: {sorted(unexpected)[:5]}"
        committed_unanswered = sum(stored.get(k) == s for k, s in ledger.unanswered)
        report.append(
            f"round {round_no + 1}: {figures['acked']} acknowledged, 0 lost, "
            f"{len(stored)} rows; of {len(ledger.unanswered)} writes unanswered at the kill, "
            f"{committed_unanswered} hold the unanswered value"
        )
        # What is stored now is the known state the next round starts from.
        ledger.possible = {k: {v} for k, v in stored.items()}
        ledger.unanswered = []
    with engine.connect() as conn:
        orphans = conn.execute(
            sa.text(
                "SELECT count(*) FROM rating r LEFT JOIN app_user u ON u.id = r.user_id "
                "LEFT JOIN book b ON b.id = r.book_id WHERE u.id IS NULL OR b.id IS NULL"
            )
        ).scalar_one()
    assert orphans == 0
    print(
        f"\n{engine.dialect.name}: "
        + "; ".join(report)
        + f"; total acknowledged {ledger.acknowledged}, lost 0"
    )
