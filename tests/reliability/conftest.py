"""Fixtures for the reliability tests: seeded databases, tokens, and a GraphQL client that
talks to a real server subprocess over loopback HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from db.engine import advance_sequences
from schema.auth import Tokens
from tests.support.server import Server, bookrec_env, bookrec_server

SECRET = "reliability-secret-key-that-is-long-enough-0123456789"


def knob(name: str, default: int) -> int:
    """Sizes are small enough for CI; BOOKREC_RELIABILITY_<NAME> makes local runs bigger."""
    return int(os.environ.get(f"BOOKREC_RELIABILITY_{name}", default))


def seed(engine: sa.Engine, n_readers: int, n_books: int) -> None:
    """Readers 1..n_readers (no password: they sign in by token) and books 1..n_books."""
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO category (id, name) VALUES (1, 'Fiction')"))
        conn.execute(
            sa.text("INSERT INTO book (id, title) VALUES (:i, :t)"),
            [{"i": b, "t": f"Book {b}"} for b in range(1, n_books + 1)],
        )
        conn.execute(
            sa.text("INSERT INTO book_category VALUES (:b, 1)"),
            [{"b": b} for b in range(1, n_books + 1)],
        )
        conn.execute(
            sa.text(
                "INSERT INTO app_user (id, username, username_key, created_at) "
                "VALUES (:i, :n, :n, CURRENT_TIMESTAMP)"
            ),
            [{"i": u, "n": f"reader-{u}"} for u in range(1, n_readers + 1)],
        )
        advance_sequences(conn)


def server_env(database_url: str, model_dir: Path, **extra: str) -> dict[str, str]:
    """A test server's settings: the model directory polled every 0.2 s, INFO logs (the
    tests read them)."""
    return bookrec_env(
        database_url,
        model_dir,
        SECRET,
        BOOKREC_ENV="test",
        BOOKREC_MODEL_POLL_SECONDS="0.2",
        BOOKREC_LOG_LEVEL="INFO",
        **extra,
    )


def reliability_server(
    database_url: str, model_dir: Path, log_path: Path, workers: int = 1
) -> Server:
    """`bookrec serve` over this database and models directory (not started yet)."""
    return bookrec_server(server_env(database_url, model_dir), log_path, workers=workers)


def token_for(user_id: int) -> str:
    """A token as the server would issue it (same secret): no Argon2 round per reader."""
    return Tokens(secret=SECRET, ttl_seconds=3600).issue(user_id)


@dataclass
class Outcome:
    """One GraphQL request as the client saw it."""

    sent: float
    received: float
    status: int | None
    body: dict[str, Any] | None
    transport_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.body is not None and not self.body.get("errors")

    def describe(self) -> str:
        if self.transport_error:
            return f"transport error: {self.transport_error}"
        return f"HTTP {self.status}: {self.body}"


@dataclass
class Client:
    http: httpx.AsyncClient
    outcomes: list[Outcome] = field(default_factory=list)

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> Outcome:
        import time

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        sent = time.monotonic()
        try:
            response = await self.http.post(
                "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
            )
        except httpx.HTTPError as exc:
            return Outcome(sent, time.monotonic(), None, None, f"{type(exc).__name__}: {exc}")
        received = time.monotonic()
        try:
            body = response.json()
        except ValueError:
            body = {"errors": [{"message": f"not JSON: {response.text[:200]}"}]}
        return Outcome(sent, received, response.status_code, body)


def async_client(server: Server, connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.url,
        timeout=httpx.Timeout(120.0),
        # Idle connections are dropped well before uvicorn's 5 s keep-alive timeout: at equal
        # timeouts a request can be sent on a connection the server is closing (ReadError).
        limits=httpx.Limits(
            max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=1.0
        ),
    )


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """An empty models dir: the integrity tests do not need a model."""
    path = tmp_path / "models"
    path.mkdir()
    return path


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Any]:
    """Builds servers that are always stopped at teardown, whatever the test did."""
    servers: list[Server] = []

    def make(database_url: str, model_dir: Path, **extra_env: str) -> Server:
        env = server_env(database_url, model_dir, **extra_env)
        server = bookrec_server(env, tmp_path / f"server-{len(servers)}.log")
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
