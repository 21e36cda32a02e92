"""Integrity under real concurrency: many HTTP clients against a `bookrec serve` subprocess,
on SQLite (WAL, BEGIN IMMEDIATE) and on PostgreSQL.

Sizes default to CI scale (1,000 writes to one row; 50 readers x 40 books; 50 readers x 4
half-failing mutations); BOOKREC_RELIABILITY_SAME_ROW_WRITES, _READERS, _BOOKS,
_CONCURRENCY (32), _HALFWAY_READERS and _HALFWAY_OPS make a local run bigger, e.g.
_BOOKS=200 for the full 10,000 rows.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.reliability.conftest import Client, Outcome, async_client, knob, seed, token_for

pytestmark = pytest.mark.slow

RATE = "mutation($b: ID!, $s: Float!) { rateBook(bookId: $b, stars: $s) { stars updatedAt } }"
STARS = [x / 2 for x in range(1, 11)]


def _errors(outcomes: list[Outcome]) -> list[str]:
    return [o.describe() for o in outcomes if not o.ok]


def _rows(engine: sa.Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]


def _instant(value: Any) -> datetime:
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


async def test_many_concurrent_rates_of_one_book_keep_one_acknowledged_value(
    database_url: str, engine: sa.Engine, model_dir: Path, server_factory: Any
) -> None:
    """N concurrent `rateBook` calls by one reader on one book, with varying stars.

    What "the last acknowledged value" can soundly mean. The service orders writes by
    commit order; the client cannot observe that directly, so the test asserts what
    follows from it and nothing more:

    1. every call is acknowledged (no error at all: no "database is locked", no pool
       timeout, no masked internal error), and exactly one row exists;
    2. the row is exactly one acknowledged write: its (stars, updated_at) pair equals the
       (stars, updatedAt) the server returned for one response (updatedAt has microsecond
       resolution, so it names that write);
    3. real-time order is respected (linearizability of the last write): a request sent
       after the winning request's response had been received was committed after it, and
       would have overwritten it, so the winner must not have any such successor;
    4. on SQLite the write lock is taken at BEGIN (BEGIN IMMEDIATE) and held to commit, and
       updated_at is computed inside that lock, so commit order IS updatedAt order: the row
       must hold the value of the response with the greatest updatedAt. On PostgreSQL,
       updated_at is computed in Python before the upsert waits for the row lock, so a
       write can commit later with an earlier timestamp; there (1)-(3) are what holds.
    """
    writes = knob("SAME_ROW_WRITES", 1000)
    seed(engine, n_readers=1, n_books=1)
    server = server_factory(database_url, model_dir).start()
    token = token_for(1)
    async with async_client(server, connections=writes) as http:
        client = Client(http)
        stars = [STARS[i % len(STARS)] for i in range(writes)]
        started = time.monotonic()
        outcomes = await asyncio.gather(
            *(client.post(RATE, {"b": "1", "s": s}, token) for s in stars)
        )
        elapsed = time.monotonic() - started
    errors = _errors(outcomes)
    assert not errors, f"{len(errors)} of {writes} failed, e.g. {Counter(errors).most_common(3)}"
    print(f"\n{writes} concurrent writes to one row in {elapsed:.1f}s on {engine.dialect.name}")

    rows = _rows(
        engine, "SELECT half_stars, updated_at FROM rating WHERE user_id = 1 AND book_id = 1"
    )
    assert len(rows) == 1
    assert _rows(engine, "SELECT count(*) FROM rating") == [(1,)]
    stored_stars, stored_at = rows[0][0] / 2, _instant(rows[0][1])

    acked = [
        (o, s, _instant(o.body["data"]["rateBook"]["updatedAt"]))  # type: ignore[index]
        for o, s in zip(outcomes, stars, strict=True)
    ]
    for outcome, sent_stars, _ in acked:
        assert outcome.body["data"]["rateBook"]["stars"] == sent_stars  # type: ignore[index]
    winners = [(o, s, at) for o, s, at in acked if at == stored_at]
    assert len(winners) == 1, f"stored updated_at {stored_at} matches {len(winners)} responses"
    winner, winner_stars, _ = winners[0]
    assert stored_stars == winner_stars
    successors = [o for o, _, _ in acked if o.sent > winner.received]
    assert not successors, (
        f"{len(successors)} writes sent after the stored write was acknowledged were lost"
    )
    if engine.dialect.name == "sqlite":
        latest = max(acked, key=lambda a: a[2])
        assert latest[0] is winner, "SQLite: the stored value is not the newest acknowledged write"
        timestamps = [at for _, _, at in acked]
        assert len(set(timestamps)) == len(timestamps), "two writes got the same updatedAt"


async def test_readers_rating_many_books_concurrently_lose_nothing(
    database_url: str, engine: sa.Engine, model_dir: Path, server_factory: Any
) -> None:
    """R readers each rate B books (R*B distinct rows), with bounded concurrency, while
    every reader also re-rates some of its books: zero errors of any kind, exactly R*B rows,
    each holding the value its reader last wrote (per key the writes are sequential, so
    the last acknowledged one is known exactly)."""
    n_readers, n_books = knob("READERS", 50), knob("BOOKS", 40)
    concurrency = knob("CONCURRENCY", 32)
    seed(engine, n_readers=n_readers, n_books=n_books)
    server = server_factory(database_url, model_dir).start()
    expected: dict[tuple[int, int], float] = {}
    jobs: list[tuple[int, list[tuple[int, float]]]] = []
    for reader in range(1, n_readers + 1):
        plan = [(book, STARS[(reader * 7 + book) % 10]) for book in range(1, n_books + 1)]
        # Every tenth book is rated twice: the second (sequential) write must win.
        plan += [(book, STARS[(reader + book * 3) % 10]) for book in range(1, n_books + 1, 10)]
        for book, s in plan:
            expected[(reader, book)] = s
        jobs.append((reader, plan))

    queue: asyncio.Queue[tuple[int, int, float]] = asyncio.Queue()
    # Per key the writes must be sequential: one queue item per reader-chunk keeps that.
    for reader, plan in jobs:
        for book, s in plan:
            queue.put_nowait((reader, book, s))
    in_flight: set[tuple[int, int]] = set()
    outcomes: list[Outcome] = []

    async with async_client(server, connections=concurrency) as http:
        client = Client(http)

        async def worker() -> None:
            while True:
                try:
                    reader, book, s = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                while (reader, book) in in_flight:  # a re-rating waits for the first write
                    await asyncio.sleep(0.01)
                in_flight.add((reader, book))
                try:
                    outcomes.append(
                        await client.post(RATE, {"b": str(book), "s": s}, token_for(reader))
                    )
                finally:
                    in_flight.discard((reader, book))

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - started
    total = sum(len(plan) for _, plan in jobs)
    errors = _errors(outcomes)
    assert len(outcomes) == total
    assert not errors, f"{len(errors)} of {total} failed, e.g. {Counter(errors).most_common(3)}"
    print(
        f"\n{total} writes ({len(expected)} rows) by {n_readers} readers, concurrency "
        f"{concurrency}, in {elapsed:.1f}s on {engine.dialect.name}"
    )
    stored = {
        (u, b): h / 2
        for u, b, h in _rows(engine, "SELECT user_id, book_id, half_stars FROM rating")
    }
    assert len(stored) == n_readers * n_books
    wrong = {k: (stored.get(k), v) for k, v in expected.items() if stored.get(k) != v}
    assert not wrong, f"{len(wrong)} rows differ (stored, expected), e.g. {list(wrong.items())[:5]}"


GOOD_OP = (
    "mutation($b1: ID!, $b2: ID!, $s: Float!) {"
    " a: rateBook(bookId: $b1, stars: $s) { stars }"
    " b: likeBook(bookId: $b2) { id }"
    ' c: setFavoriteCategories(categoryIds: ["1"]) { id } }'
)
# The same writes, then a field that fails in the database layer (unknown book): the
# whole operation must be rolled back, the earlier fields' writes included.
BAD_OP = GOOD_OP[:-2] + ' d: rateBook(bookId: "999999", stars: 3) { stars } }'


async def test_mutations_failing_half_way_leave_nothing_under_concurrency(
    database_url: str, engine: sa.Engine, model_dir: Path, server_factory: Any
) -> None:
    """Readers with even ids send three-field mutations (rate, like, set categories); readers
    with odd ids send the same plus a fourth field that fails (NOT_FOUND) after the others
    wrote. Concurrently. Afterwards: every failing operation answered data=null with
    NOT_FOUND, and left no rating, no feedback, no category choice and no like count behind;
    every good operation left exactly its writes (like counts equal the good likes)."""
    n_readers, ops_per_reader = knob("HALFWAY_READERS", 50), knob("HALFWAY_OPS", 4)
    n_books, concurrency = 40, knob("CONCURRENCY", 32)
    seed(engine, n_readers=n_readers, n_books=n_books)
    server = server_factory(database_url, model_dir).start()
    expected_ratings: dict[tuple[int, int], float] = {}
    expected_likes: Counter[int] = Counter()
    liked: set[tuple[int, int]] = set()
    semaphore = asyncio.Semaphore(concurrency)

    def plan(reader: int) -> list[dict[str, Any]]:
        return [
            {
                "b1": str((reader * 3 + i) % n_books + 1),
                "b2": str((reader + i * 7) % n_books + 1),
                "s": STARS[(reader + i) % 10],
            }
            for i in range(ops_per_reader)
        ]

    for reader in range(2, n_readers + 1, 2):
        for op in plan(reader):
            expected_ratings[(reader, int(op["b1"]))] = op["s"]
            if (reader, int(op["b2"])) not in liked:
                liked.add((reader, int(op["b2"])))
                expected_likes[int(op["b2"])] += 1

    async with async_client(server, connections=concurrency) as http:
        client = Client(http)

        async def run_reader(reader: int) -> list[tuple[bool, Outcome]]:
            done = []
            for op in plan(reader):  # sequential per reader: its last write is known
                async with semaphore:
                    bad = reader % 2 == 1
                    done.append(
                        (bad, await client.post(BAD_OP if bad else GOOD_OP, op, token_for(reader)))
                    )
            return done

        results = [
            r
            for rs in await asyncio.gather(*(run_reader(u) for u in range(1, n_readers + 1)))
            for r in rs
        ]

    bad_results = [o for bad, o in results if bad]
    good_results = [o for bad, o in results if not bad]
    assert not _errors(good_results), Counter(_errors(good_results)).most_common(3)
    for outcome in bad_results:
        assert outcome.status == 200 and outcome.body is not None, outcome.describe()
        assert outcome.body["data"] is None, outcome.body
        assert [e["extensions"]["code"] for e in outcome.body["errors"]] == ["NOT_FOUND"], (
            outcome.body
        )
    print(
        f"\n{len(bad_results)} failing and {len(good_results)} good multi-field mutations on {engine.dialect.name}"
    )

    odd = "user_id % 2 = 1"
    assert _rows(engine, f"SELECT count(*) FROM rating WHERE {odd}") == [(0,)]
    assert _rows(engine, f"SELECT count(*) FROM feedback WHERE {odd}") == [(0,)]
    assert _rows(engine, f"SELECT count(*) FROM user_category WHERE {odd}") == [(0,)]
    stored = {
        (u, b): h / 2
        for u, b, h in _rows(engine, "SELECT user_id, book_id, half_stars FROM rating")
    }
    assert stored == expected_ratings
    likes = {
        b: n for b, n in _rows(engine, "SELECT id, like_count FROM book WHERE like_count <> 0")
    }
    assert likes == dict(expected_likes)
    assert set(_rows(engine, "SELECT user_id, book_id FROM feedback")) == liked
    assert _rows(engine, "SELECT count(*) FROM user_category") == [(n_readers // 2,)]
