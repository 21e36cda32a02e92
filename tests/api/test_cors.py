"""Cross-origin access for browser frontends: an allow-list, preflights, credentials."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.settings import ConfigError, Settings
from tests.support.api import SECRET, api_for

SHOP = "https://shop.example"
QUERY = {"query": "{ categories { name } }"}
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


async def test_an_allowed_origin_may_call_the_api(
    engine: sa.Engine, database_url: str, seed_catalog: None
) -> None:
    async with api_for(engine, database_url, cors_origins=[SHOP]) as api:
        response = await api.client.post("/graphql", json=QUERY, headers={"Origin": SHOP})
        assert response.status_code == 200 and "errors" not in response.json()
        assert response.headers["access-control-allow-origin"] == SHOP
        assert response.headers["access-control-allow-credentials"] == "true"
        assert "origin" in response.headers["vary"].lower()

        preflight = await api.client.options("/graphql", headers={"Origin": SHOP, **PREFLIGHT})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == SHOP
        assert "POST" in preflight.headers["access-control-allow-methods"]
        allowed = preflight.headers["access-control-allow-headers"].lower()
        assert "authorization" in allowed and "content-type" in allowed
        assert preflight.headers["access-control-max-age"] == "600"


async def test_another_origin_is_refused(
    engine: sa.Engine, database_url: str, seed_catalog: None
) -> None:
    async with api_for(engine, database_url, cors_origins=[SHOP]) as api:
        evil = "https://evil.example"
        response = await api.client.post("/graphql", json=QUERY, headers={"Origin": evil})
        # the browser withholds the answer from the page: no allow-origin header
        assert "access-control-allow-origin" not in response.headers
        preflight = await api.client.options("/graphql", headers={"Origin": evil, **PREFLIGHT})
        assert preflight.status_code == 400
        assert "access-control-allow-origin" not in preflight.headers


async def test_no_origin_is_allowed_by_default(api) -> None:  # type: ignore[no-untyped-def]
    response = await api.client.post("/graphql", json=QUERY, headers={"Origin": SHOP})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


def test_the_origin_list_is_checked_and_production_refuses_a_wildcard() -> None:
    assert Settings(cors_origins="https://a.example, http://localhost:3000/").cors_origins == [
        "https://a.example",
        "http://localhost:3000",
    ]
    with pytest.raises(ValueError, match="not an origin"):
        Settings(cors_origins="https://a.example/app")
    assert Settings(cors_origins="*").cors_origins == ["*"]
    with pytest.raises(ConfigError, match="production"):
        Settings(env="production", secret_key=SECRET, cors_origins="*")
