"""Two real `bookrec serve` processes over one database (SQLite file or PostgreSQL): the
sign-in throttle holds across them (exactly the budget of password checks in total, counted
from the servers' own logs: one line per password refused), a success on one clears the
count for the other, and a password change or an account deletion on one ends the other
tokens' sessions on both, whatever their verified-token caches hold."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from db import throttle
from tests.reliability.conftest import Client, async_client
from tests.support.server import Server

pytestmark = pytest.mark.slow

MAX = 3
GUESSES_PER_SERVER = 12
LOGIN = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }"
REGISTER = "mutation($u: String!, $p: String!) { register(username: $u, password: $p) { token } }"
CHANGE = (
    "mutation($o: String!, $n: String!) { changePassword(oldPassword: $o, newPassword: $n) "
    "{ token } }"
)
ME = "{ me { username } }"
RECOMMENDATIONS = "{ recommendations(first: 2) { book { id } } }"
# The line bookrec logs after each password check that refused (schema/mutation.py).
REFUSED_LINE = "password checked and refused for username"


def code(outcome: Any) -> str | None:
    errors = (outcome.body or {}).get("errors") or []
    return errors[0]["extensions"]["code"] if errors else None


def refused_checks(servers: list[Server]) -> int:
    return sum(server.log_text().count(REFUSED_LINE) for server in servers)


async def test_throttle_and_sessions_hold_across_two_servers(
    database_url: str, engine: sa.Engine, model_dir: Path, server_factory: Any
) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO book (id, title) VALUES (1, 'B1'), (2, 'B2')"))
    limits = {"BOOKREC_LOGIN_MAX_FAILURES": str(MAX), "BOOKREC_LOGIN_LOCKOUT_SECONDS": "600"}
    servers: list[Server] = [server_factory(database_url, model_dir, **limits) for _ in range(2)]
    await asyncio.gather(*(asyncio.to_thread(s.start) for s in servers))
    async with async_client(servers[0], 32) as h0, async_client(servers[1], 32) as h1:
        a, b = Client(h0), Client(h1)
        for name in ("victim", "forgetful", "ann"):
            assert (await a.post(REGISTER, {"u": name, "p": "right password"})).ok

        # 1. concurrent wrong guesses on both servers: exactly MAX password checks in all
        guesses = [
            client.post(LOGIN, {"u": name, "p": f"guess {i}"})
            for i in range(GUESSES_PER_SERVER)
            for client, name in ((a, "victim"), (b, "Victim"))
        ]
        answers = [code(o) for o in await asyncio.gather(*guesses)]
        assert answers.count("UNAUTHENTICATED") == MAX, answers
        assert answers.count("TOO_MANY_REQUESTS") == 2 * GUESSES_PER_SERVER - MAX, answers
        with Session(engine) as session:
            assert throttle.failures(session, "victim") == MAX
        for client in (a, b):  # locked on both, the right password is not even checked
            locked = await client.post(LOGIN, {"u": "victim", "p": "right password"})
            assert code(locked) == "TOO_MANY_REQUESTS", locked.describe()
            assert 1 <= locked.body["errors"][0]["extensions"]["retryAfterSeconds"] <= 600  # type: ignore[index]
        assert refused_checks(servers) == MAX

        # 2. a success on one server clears the count the other one sees
        for _ in range(MAX - 1):
            assert code(await a.post(LOGIN, {"u": "forgetful", "p": "wrong"})) == "UNAUTHENTICATED"
        assert (await b.post(LOGIN, {"u": "forgetful", "p": "right password"})).ok
        for _ in range(MAX - 1):
            assert code(await a.post(LOGIN, {"u": "forgetful", "p": "wrong"})) == "UNAUTHENTICATED"
        assert refused_checks(servers) == MAX + 2 * (MAX - 1)

        # 3. a password change on one server ends every other session on both
        tokens = []
        for client in (a, b):
            outcome = await client.post(LOGIN, {"u": "ann", "p": "right password"})
            tokens.append(outcome.body["data"]["login"]["token"])  # type: ignore[index]
        for client in (a, b):  # each token used, so cached, on each server
            for token in tokens:
                assert (await client.post(ME, token=token)).ok
                assert (await client.post(RECOMMENDATIONS, token=token)).ok
        changed = await b.post(CHANGE, {"o": "right password", "n": "new password"}, tokens[1])
        assert changed.ok, changed.describe()
        fresh = changed.body["data"]["changePassword"]["token"]  # type: ignore[index]
        for client in (a, b):
            for token in tokens:
                for query in (ME, RECOMMENDATIONS):
                    refused = await client.post(query, token=token)
                    assert code(refused) == "UNAUTHENTICATED", refused.describe()
            assert (await client.post(ME, token=fresh)).ok

        # 4. an account deleted on one server is signed out on the other
        deleted = await a.post('mutation { deleteAccount(password: "new password") }', token=fresh)
        assert deleted.ok, deleted.describe()
        assert code(await b.post(ME, token=fresh)) == "UNAUTHENTICATED"
        assert code(await b.post(RECOMMENDATIONS, token=fresh)) == "UNAUTHENTICATED"
    for server in servers:
        assert "Traceback" not in server.log_text(), server.log_tail()
