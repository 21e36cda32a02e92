"""The sign-in throttle's counts live in the database (`login_throttle`): shared by every
app over it, for usernames with no account too, pruned once their window has passed."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from app.asgi import build_services, create_app
from db import throttle
from tests.support.api import Api, CountingPasswords, client_for, make_settings

LOGIN = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }"
MAX = 3


@pytest.fixture
async def two_apps(
    engine: sa.Engine, database_url: str, seed_catalog: None
) -> AsyncIterator[list[tuple[Api, CountingPasswords]]]:
    """Two apps over one database, each with its own services (as two processes have)."""
    settings = make_settings(database_url, login_max_failures=MAX, login_lockout_seconds=600)
    async with AsyncExitStack() as stack:
        apps = []
        for _ in range(2):
            passwords = CountingPasswords()
            services = dataclasses.replace(build_services(settings, engine), passwords=passwords)
            client = await stack.enter_async_context(
                client_for(create_app(settings, engine, services))
            )
            apps.append((Api(client), passwords))
        yield apps


def codes(bodies: list[dict]) -> list[str]:  # type: ignore[type-arg]
    return [e["extensions"]["code"] for body in bodies for e in body.get("errors", [])]


def stored_failures(engine: sa.Engine, username: str) -> int:
    with Session(engine) as session:
        return throttle.failures(session, username.lower())


async def test_concurrent_guesses_on_two_apps_get_exactly_the_budget(
    two_apps: list[tuple[Api, CountingPasswords]], engine: sa.Engine
) -> None:
    (a, pa), (b, pb) = two_apps
    await a.register("victim", "right password")
    guesses = [
        api.gql(LOGIN, {"u": name, "p": f"guess {i}"})
        for i in range(10)
        for api, name in ((a, "victim"), (b, "VICTIM"))
    ]
    found = codes(await asyncio.gather(*guesses))
    assert found.count("UNAUTHENTICATED") == MAX, found
    assert found.count("TOO_MANY_REQUESTS") == 20 - MAX
    assert pa.verified + pb.verified == MAX
    assert stored_failures(engine, "victim") == MAX
    for api in (a, b):  # locked everywhere, even for the right password (not checked)
        locked = await api.error(LOGIN, {"u": "victim", "p": "right password"})
        assert locked["extensions"]["code"] == "TOO_MANY_REQUESTS"
        assert 1 <= locked["extensions"]["retryAfterSeconds"] <= 600
    assert pa.verified + pb.verified == MAX


async def test_unknown_usernames_are_throttled_alike(
    two_apps: list[tuple[Api, CountingPasswords]], engine: sa.Engine
) -> None:
    """No account behind the name: the same answers in the same order (nothing tells an
    attacker which names exist), and the rows hold a digest, not the name."""
    (a, _), (b, _) = two_apps
    await a.register("realname", "right password")
    answers = {}
    for name in ("realname", "ghost"):
        answers[name] = [
            (await api.error(LOGIN, {"u": name, "p": "wrong guess"}))["extensions"]["code"]
            for api in (a, b, a, b, a)
        ]
    assert (
        answers["realname"]
        == answers["ghost"]
        == ["UNAUTHENTICATED"] * MAX + ["TOO_MANY_REQUESTS"] * 2
    )
    with engine.connect() as conn:
        keys = set(conn.execute(sa.text("SELECT key FROM login_throttle")).scalars())
    assert keys == {throttle.throttle_key("realname"), throttle.throttle_key("ghost")}
    assert not any("ghost" in key or "realname" in key for key in keys)


async def test_success_on_one_app_clears_the_count_for_the_other(
    two_apps: list[tuple[Api, CountingPasswords]], engine: sa.Engine
) -> None:
    (a, _), (b, _) = two_apps
    await a.register("forgetful", "right password")
    for _ in range(MAX - 1):
        await a.error(LOGIN, {"u": "forgetful", "p": "wrong guess"})
    assert stored_failures(engine, "forgetful") == MAX - 1
    assert (await b.ok(LOGIN, {"u": "forgetful", "p": "right password"}))["login"]["token"]
    assert stored_failures(engine, "forgetful") == 0
    for _ in range(MAX - 1):  # a fresh budget: not locked
        error = await a.error(LOGIN, {"u": "forgetful", "p": "wrong guess"})
        assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_the_window_ends_and_old_rows_are_pruned(
    engine: sa.Engine, database_url: str, seed_catalog: None
) -> None:
    lockout = 600.0
    settings = make_settings(database_url, login_max_failures=2, login_lockout_seconds=lockout)
    with engine.begin() as conn:  # rows of windows long past, as many names leave behind
        conn.execute(
            sa.text("INSERT INTO login_throttle (key, failures, window_start) VALUES (:k, 2, 0)"),
            [{"k": throttle.throttle_key(f"old-{i}")} for i in range(50)],
        )
    async with client_for(create_app(settings, engine)) as client:
        api = Api(client)
        await api.register("patient", "right password")
        for _ in range(2):
            await api.error(LOGIN, {"u": "patient", "p": "wrong guess"})
        with engine.connect() as conn:  # the first attempt of the process pruned them
            assert conn.execute(sa.text("SELECT COUNT(*) FROM login_throttle")).scalar() == 1
        locked = await api.error(LOGIN, {"u": "patient", "p": "right password"})
        assert locked["extensions"]["code"] == "TOO_MANY_REQUESTS"
        assert 590 <= locked["extensions"]["retryAfterSeconds"] <= lockout
        with engine.begin() as conn:  # the window ends (moved back, not waited for)
            conn.execute(sa.text("UPDATE login_throttle SET window_start = window_start - 600"))
        assert (await api.ok(LOGIN, {"u": "patient", "p": "right password"}))["login"]["token"]
        # a row whose window expired counts again from one, even before it is pruned
        with engine.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO login_throttle VALUES (:k, 2, 0)"),
                {"k": throttle.throttle_key("patient")},
            )
        with Session(engine) as session:
            assert throttle.reserve_failure(session, "patient", 2, lockout) is None
            session.commit()
            assert throttle.failures(session, "patient") == 1
