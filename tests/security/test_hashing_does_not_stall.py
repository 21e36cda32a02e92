"""Password hashing (Argon2, deliberately slow) never stalls other requests.

In process, with events: every sign-in is held inside its hashing call (in a worker thread)
while cheap requests are answered; had hashing run on the event loop, nothing else could
have been. Then, on a real uvicorn server with unmodified Argon2: cheap queries sent while
several sign-ins hash are all answered before any sign-in is."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from app.asgi import build_services, create_app
from schema.auth import Passwords
from tests.support.api import SECRET, Api, client_for, make_settings

ROOT = Path(__file__).resolve().parents[2]
REGISTER = (
    'mutation($u: String!) { register(username: $u, password: "hashing password") { token } }'
)
LOGIN = 'mutation($u: String!) { login(username: $u, password: "hashing password") { token } }'


class GatedPasswords(Passwords):
    """Real Argon2, but each call first waits at a gate the test opens: while it is shut,
    every hashing call is known to be in flight, in its worker thread."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()
        self.in_flight = 0
        self.finished = 0
        self._lock = threading.Lock()

    def _held(self, work):  # type: ignore[no-untyped-def]
        with self._lock:
            self.in_flight += 1
        # Bounded, so that a regression fails the test instead of hanging it.
        self.gate.wait(timeout=10)
        try:
            return work()
        finally:
            with self._lock:
                self.in_flight -= 1
                self.finished += 1

    def hash(self, password: str) -> str:
        return self._held(lambda: super(GatedPasswords, self).hash(password))  # type: ignore[no-any-return]

    def verify(self, password_hash: str | None, password: str) -> bool:
        return self._held(lambda: super(GatedPasswords, self).verify(password_hash, password))  # type: ignore[no-any-return]


@pytest.fixture
async def gated(
    engine: sa.Engine, database_url: str, seed_catalog: None
) -> AsyncIterator[tuple[Api, GatedPasswords]]:
    settings = make_settings(database_url)
    passwords = GatedPasswords()
    services = dataclasses.replace(build_services(settings, engine), passwords=passwords)
    async with client_for(create_app(settings, engine, services)) as client:
        api = Api(client)
        for i in range(3):
            await api.ok(REGISTER, {"u": f"existing{i}"})
        yield api, passwords
        passwords.gate.set()


async def _until_in_flight(passwords: GatedPasswords, n: int) -> None:
    async with asyncio.timeout(10):
        while passwords.in_flight < n:
            await asyncio.sleep(0.005)


async def test_cheap_requests_are_answered_while_hashing_calls_are_in_flight(
    gated: tuple[Api, GatedPasswords],
) -> None:
    api, passwords = gated
    passwords.gate.clear()
    finished_before = passwords.finished
    signins = [asyncio.create_task(api.gql(REGISTER, {"u": f"newcomer{i}"})) for i in range(4)]
    signins.append(asyncio.create_task(api.gql(LOGIN, {"u": "existing0"})))
    await _until_in_flight(passwords, len(signins))
    # All five are inside Argon2 calls now, held there. The event loop must still serve:
    cheap = await asyncio.wait_for(api.gql("{ __typename }"), timeout=5)
    with_db = await asyncio.wait_for(api.gql("{ categories { name } }"), timeout=5)
    assert cheap == {"data": {"__typename": "Query"}}
    assert len(with_db["data"]["categories"]) == 3
    # ...and it did so before any hashing call finished.
    assert passwords.finished == finished_before
    assert not any(task.done() for task in signins)
    passwords.gate.set()
    bodies = await asyncio.wait_for(asyncio.gather(*signins), timeout=30)
    assert all(body["data"] and "errors" not in body for body in bodies), bodies
    assert passwords.finished == finished_before + len(signins)


async def test_a_password_check_holds_no_lock_that_other_writes_need(
    gated: tuple[Api, GatedPasswords],
) -> None:
    """While one reader's sign-in checks a password, another reader can still rate a book
    and a third can start signing in: the check must not run inside a write transaction
    (on SQLite, BEGIN IMMEDIATE holds the database's single write lock)."""
    api, passwords = gated
    rater = (await api.ok(LOGIN, {"u": "existing1"}))["login"]["token"]
    passwords.gate.clear()
    first = asyncio.create_task(api.gql(LOGIN, {"u": "existing0"}))
    await _until_in_flight(passwords, 1)
    rated = await asyncio.wait_for(
        api.gql('mutation { rateBook(bookId: "1", stars: 4) { stars } }', token=rater), timeout=5
    )
    assert rated == {"data": {"rateBook": {"stars": 4.0}}}
    second = asyncio.create_task(api.gql(LOGIN, {"u": "existing2"}))
    await _until_in_flight(passwords, 2)
    assert not first.done()
    passwords.gate.set()
    for body in await asyncio.wait_for(asyncio.gather(first, second), timeout=30):
        assert body["data"]["login"]["token"], body


# -- a real server --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(database_url: str, seed_catalog: None, tmp_path: Path) -> Iterator[str]:
    """`bookrec serve`'s app under uvicorn, in a subprocess, on a free loopback port."""
    port = _free_port()
    env = {
        **os.environ,
        "BOOKREC_ENV": "test",
        "BOOKREC_DATABASE_URL": database_url,
        "BOOKREC_SECRET_KEY": SECRET,
        "BOOKREC_MODEL_DIR": str(tmp_path / "models"),
        "BOOKREC_LOG_LEVEL": "WARNING",
    }
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:create_app_from_env",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.mark.slow
async def test_real_server_answers_cheap_queries_before_any_concurrent_sign_in(server: str) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=60) as client:

        async def gql(query: str, variables: dict[str, str] | None = None) -> dict[str, object]:
            response = await client.post(
                "/graphql", json={"query": query, "variables": variables or {}}
            )
            assert response.status_code == 200, response.text
            return response.json()  # type: ignore[no-any-return]

        for i in range(2):
            await gql(REGISTER, {"u": f"existing{i}"})
        order: list[str] = []

        async def signin(query: str, name: str) -> None:
            body = await gql(query, {"u": name})
            assert "errors" not in body, body
            order.append("hash")

        # Enough Argon2 calls to keep every core busy for several hashes' time.
        signins = max(6, 2 * (os.cpu_count() or 1))
        tasks = [asyncio.create_task(signin(REGISTER, f"newcomer{i}")) for i in range(signins - 2)]
        tasks += [asyncio.create_task(signin(LOGIN, f"existing{i}")) for i in range(2)]
        await asyncio.sleep(0.01)  # let the sign-ins go out first
        for _ in range(5):
            assert await gql("{ __typename }") == {"data": {"__typename": "Query"}}
            order.append("cheap")
        await asyncio.gather(*tasks)
    # The sign-ins' hashing takes many times longer than five cheap queries; had it held the
    # event loop, each cheap query would have waited for a whole hash, and sign-ins would
    # have finished in between.
    assert order == ["cheap"] * 5 + ["hash"] * signins, order
