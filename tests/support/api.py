"""Driving an app through HTTP in process (httpx over ASGI), and the small catalog most API
tests start from."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa
from starlette.applications import Starlette

from app.asgi import create_app
from app.settings import Settings
from db.engine import advance_sequences
from schema.auth import Passwords

SECRET = "test-secret-key-that-is-long-enough-0123456789"


@dataclass
class Api:
    client: httpx.AsyncClient

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        token: str | None = None,
        **kw: Any,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers, **kw
        )

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        response = await self.post(query, variables, token)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def ok(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        body = await self.gql(query, variables, token)
        assert "errors" not in body, body["errors"]
        return body["data"]  # type: ignore[no-any-return]

    async def error(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        body = await self.gql(query, variables, token)
        assert body.get("errors"), body
        return body["errors"][0]  # type: ignore[no-any-return]

    async def register(
        self, username: str, password: str = "correct horse", categories: list[str] | None = None
    ) -> str:
        data = await self.ok(
            "mutation($u: String!, $p: String!, $c: [ID!]!) {"
            " register(username: $u, password: $p, categoryIds: $c) { token } }",
            {"u": username, "p": password, "c": categories or []},
        )
        return data["register"]["token"]  # type: ignore[no-any-return]


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": database_url,
        "secret_key": SECRET,
        "login_max_failures": 5,
        **overrides,
    }
    return Settings(**values)


def seed_small_catalog(engine: sa.Engine) -> None:
    """Three categories and five books; book 5 has no category."""
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO category (id, name) VALUES (1, 'Fantasy'), "
                "(2, 'Mystery'), (3, 'Science Fiction')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO book (id, title, authors, year, isbn, cover_url) VALUES "
                "(1, 'The Hobbit', 'J.R.R. Tolkien', 1937, '0618260307', 'http://x/1.jpg'),"
                "(2, 'Gone Girl', 'Gillian Flynn', 2012, NULL, NULL),"
                "(3, 'Dune', 'Frank Herbert', 1965, NULL, NULL),"
                "(4, 'The Fellowship of the Ring', 'J.R.R. Tolkien', 1954, NULL, NULL),"
                "(5, 'Untitled 100% _draft_', 'Anon', NULL, NULL, NULL)"
            )
        )
        conn.execute(
            sa.text("INSERT INTO book_category VALUES (1, 1), (2, 2), (3, 3), (4, 1), (3, 1)")
        )
        advance_sequences(conn)


def seed_reader(engine: sa.Engine) -> None:
    """`seed_small_catalog` and one reader, id 1 ("ann"), with nothing rated."""
    seed_small_catalog(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO app_user (id, username, username_key, created_at) "
                "VALUES (1, 'ann', 'ann', CURRENT_TIMESTAMP)"
            )
        )


@contextlib.asynccontextmanager
async def client_for(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@contextlib.asynccontextmanager
async def api_for(engine: sa.Engine, database_url: str, **overrides: Any) -> AsyncIterator[Api]:
    """An Api over an app built with these settings overrides, sharing the test's engine."""
    app = create_app(make_settings(database_url, **overrides), engine)
    async with client_for(app) as client:
        yield Api(client)


async def login_as(api: Api, engine: sa.Engine, user_id: int) -> str:
    """Readers from the dataset have no password: give one a password to sign in."""
    from schema.auth import Passwords

    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE app_user SET password_hash = :h WHERE id = :i"),
            {"h": Passwords().hash("reader password"), "i": user_id},
        )
    data = await api.ok(
        'mutation($u: String!) { login(username: $u, password: "reader password") { token } }',
        {"u": f"reader-{user_id}"},
    )
    return data["login"]["token"]  # type: ignore[no-any-return]


def rated_by(engine: sa.Engine, user_id: int) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT book_id FROM rating WHERE user_id = :u"), {"u": user_id}
        )
        return {str(b) for (b,) in rows}


def make_staff(engine: sa.Engine, username: str, staff: bool = True) -> None:
    """What `bookrec user grant-staff NAME` does, for tests that already hold an engine."""
    from sqlmodel import Session

    from db.readers import set_staff

    with Session(engine) as session:
        set_staff(session, username, staff)
        session.commit()


class CountingPasswords(Passwords):
    """Real Argon2, counting how many password checks actually ran (throttle tests)."""

    def __init__(self) -> None:
        super().__init__()
        self.verified = 0
        self._lock = threading.Lock()

    def verify(self, password_hash: str | None, password: str) -> bool:
        with self._lock:
            self.verified += 1
        return super().verify(password_hash, password)
