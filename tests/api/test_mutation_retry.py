"""A mutation the database rolls back to break a deadlock or a serialisation conflict is run
again, whole; the reader never sees the failure. Queries are never run again.

The race: two readers like books 1 and 2 at once, in opposite orders. `set_feedback` locks
each book's row, so on PostgreSQL each transaction can hold the lock the other waits for,
and the server aborts one of them (SQLSTATE 40P01). SQLite takes its write lock at BEGIN and
cannot deadlock; the race runs there too, and must give the same answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa

from db import catalog, ratings
from db.engine import advance_sequences
from db.session import UnitOfWork
from schema.auth import Tokens
from tests.support.api import SECRET, Api, api_for
from tests.support.checks import error_codes

ONE_THEN_TWO = 'mutation { a: likeBook(bookId: "1") { id } b: likeBook(bookId: "2") { id } }'
TWO_THEN_ONE = 'mutation { b: likeBook(bookId: "2") { id } a: likeBook(bookId: "1") { id } }'
ROUNDS = 40
RETRY_LOG = "rolled back by the database"


def _readers(engine: sa.Engine, count: int) -> list[str]:
    """`count` new readers (ids 1..count; no password: they act by token); their tokens."""
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO app_user (id, username, username_key, created_at) "
                "VALUES (:i, :n, :n, CURRENT_TIMESTAMP)"
            ),
            [{"i": i, "n": f"racer-{i}"} for i in range(1, count + 1)],
        )
        advance_sequences(conn)
    tokens = Tokens(secret=SECRET, ttl_seconds=3600)
    return [tokens.issue(i) for i in range(1, count + 1)]


async def _race(api: Api, tokens: list[str]) -> list[dict[str, Any]]:
    """ROUNDS rounds; in each, two readers run the two orders at once."""
    bodies = []
    for round_ in range(ROUNDS):
        first, second = tokens[2 * round_], tokens[2 * round_ + 1]
        responses = await asyncio.gather(
            api.post(ONE_THEN_TWO, token=first), api.post(TWO_THEN_ONE, token=second)
        )
        for response in responses:
            assert response.status_code == 200, response.text
            bodies.append(response.json())
    return bodies


def _like_counts(engine: sa.Engine) -> dict[int, tuple[int, int]]:
    """Book id -> (like_count column, liked feedback rows), for books 1 and 2."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT b.id, b.like_count, "
                "(SELECT count(*) FROM feedback f WHERE f.book_id = b.id AND f.kind = 'liked') "
                "FROM book b WHERE b.id IN (1, 2) ORDER BY b.id"
            )
        )
        return {int(i): (int(count), int(rows_)) for i, count, rows_ in rows}


def _outcomes(bodies: list[dict[str, Any]]) -> Counter[str]:
    return Counter(",".join(error_codes(body)) or "ok" for body in bodies)


async def test_opposite_order_likes_deadlock_without_the_retry(
    engine: sa.Engine, database_url: str, seed_catalog: None, caplog: pytest.LogCaptureFixture
) -> None:
    """The race is real: with one attempt only, PostgreSQL aborts some of the operations,
    and the reader sees INTERNAL_SERVER_ERROR. (What makes the next test able to fail.)"""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers at BEGIN: nothing to deadlock")
    tokens = _readers(engine, 2 * ROUNDS)
    async with api_for(engine, database_url, mutation_attempts=1) as api:
        bodies = await _race(api, tokens)
    outcomes = _outcomes(bodies)
    print(f"without the retry, {2 * ROUNDS} operations: {dict(outcomes)}")
    assert outcomes["INTERNAL_SERVER_ERROR"] > 0, outcomes
    assert set(outcomes) == {"ok", "INTERNAL_SERVER_ERROR"}, outcomes
    assert any("deadlock detected" in (r.exc_text or "") for r in caplog.records)
    assert not [r for r in caplog.records if RETRY_LOG in r.getMessage()]
    # What failed was rolled back whole: counts still agree with the rows.
    succeeded = outcomes["ok"]
    assert _like_counts(engine) == {1: (succeeded, succeeded), 2: (succeeded, succeeded)}


async def test_opposite_order_likes_never_fail_with_the_retry(
    engine: sa.Engine, database_url: str, seed_catalog: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bookrec.app")
    tokens = _readers(engine, 2 * ROUNDS)
    async with api_for(engine, database_url) as api:
        bodies = await _race(api, tokens)
    outcomes = _outcomes(bodies)
    retries = [r for r in caplog.records if RETRY_LOG in r.getMessage()]
    print(f"with the retry, {2 * ROUNDS} operations: {dict(outcomes)}, retries: {len(retries)}")
    assert outcomes == Counter({"ok": 2 * ROUNDS}), outcomes
    assert all(r.levelno == logging.WARNING for r in retries)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    everyone = 2 * ROUNDS
    assert _like_counts(engine) == {1: (everyone, everyone), 2: (everyone, everyone)}
    if engine.dialect.name == "postgresql":
        assert retries, "no deadlock in the race: the test proved nothing"


class FakeDeadlock(Exception):
    """What psycopg raises for a deadlock, as far as the retry can tell."""

    sqlstate = "40P01"


class FakeSerializationFailure(Exception):
    sqlstate = "40001"


def _deadlocking(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, times: int) -> list[int]:
    """Make `module.name` raise FakeDeadlock its first `times` calls; returns the call log."""
    real = getattr(module, name)
    calls: list[int] = []

    def fake(*args: Any) -> Any:
        calls.append(1)
        if len(calls) <= times:
            raise FakeDeadlock("deadlock detected")
        return real(*args)

    monkeypatch.setattr(module, name, fake)
    return calls


async def test_a_mutation_is_run_again_until_it_succeeds(
    api: Api, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    (token,) = _readers(engine, 1)
    calls = _deadlocking(monkeypatch, ratings, "set_feedback", times=2)
    data = await api.ok('mutation { likeBook(bookId: "3") { likeCount } }', token=token)
    assert data == {"likeBook": {"likeCount": 1}}
    assert len(calls) == 3
    warnings = [r for r in caplog.records if RETRY_LOG in r.getMessage()]
    assert [r.levelno for r in warnings] == [logging.WARNING] * 2
    assert "40P01" in warnings[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_the_retry_is_bounded(
    api: Api, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    (token,) = _readers(engine, 1)
    calls = _deadlocking(monkeypatch, ratings, "set_feedback", times=1000)
    body = await api.gql('mutation { likeBook(bookId: "3") { likeCount } }', token=token)
    assert error_codes(body) == ["INTERNAL_SERVER_ERROR"] and body["data"] is None
    assert len(calls) == 5  # BOOKREC_MUTATION_ATTEMPTS' default
    assert len([r for r in caplog.records if RETRY_LOG in r.getMessage()]) == 4
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors  # the last attempt's failure, once
    assert _like_counts(engine)[1] == (0, 0)


async def test_a_query_is_never_run_again(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls = _deadlocking(monkeypatch, catalog, "all_categories", times=1)
    body = await api.gql("{ categories { name } }")
    assert error_codes(body) == ["INTERNAL_SERVER_ERROR"]
    assert len(calls) == 1
    assert not [r for r in caplog.records if RETRY_LOG in r.getMessage()]


async def test_a_commit_rolled_back_by_the_database_is_run_again(
    api: Api, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A serialisation failure can also come at COMMIT; the operation is run again whole."""
    (token,) = _readers(engine, 1)
    real = UnitOfWork.commit
    commits: list[int] = []

    async def commit(self: UnitOfWork) -> None:
        commits.append(1)
        if len(commits) == 1:
            await self.rollback()
            raise FakeSerializationFailure("could not serialize access")
        await real(self)

    monkeypatch.setattr(UnitOfWork, "commit", commit)
    data = await api.ok('mutation { likeBook(bookId: "3") { likeCount } }', token=token)
    assert data == {"likeBook": {"likeCount": 1}} and len(commits) == 2
    (warning,) = [r for r in caplog.records if RETRY_LOG in r.getMessage()]
    assert "40001" in warning.getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT like_count FROM book WHERE id = 3")).scalar_one() == 1
