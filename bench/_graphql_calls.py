"""Single GraphQL calls the benchmarks make while setting up (not measured): one call that
must succeed, and registering readers through the API."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx

REGISTER = """mutation($u: String!, $p: String!, $c: [ID!]!) {
  register(username: $u, password: $p, categoryIds: $c) { token user { id } } }"""


async def graphql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """The ``data`` of one call; raises if the answer is not HTTP 200 without errors."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"GraphQL call failed ({response.status_code}): {str(body)[:500]}")
    return body["data"]  # type: ignore[no-any-return]


async def register_readers(
    base_url: str, prefix: str, categories: Sequence[Sequence[str]], parallel: int = 4
) -> list[tuple[int, str]]:
    """Register one reader per entry of ``categories`` (its chosen category ids) through the
    API; returns (user id, token) pairs. Argon2 hashing makes this ~0.1 s each: keep it small."""
    out: list[tuple[int, str] | None] = [None] * len(categories)
    sem = asyncio.Semaphore(parallel)
    async with httpx.AsyncClient(base_url=base_url, timeout=60.0) as client:

        async def one(i: int) -> None:
            async with sem:
                data = await graphql(
                    client,
                    REGISTER,
                    {"u": f"{prefix}{i}", "p": "bench-password-1", "c": list(categories[i])},
                )
                out[i] = (int(data["register"]["user"]["id"]), data["register"]["token"])

        await asyncio.gather(*(one(i) for i in range(len(categories))))
    return [r for r in out if r is not None]
