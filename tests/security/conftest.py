"""The security suite's own fixture: an app in production mode."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from tests.support.api import Api, api_for


@pytest.fixture
async def prod_api(engine: sa.Engine, database_url: str, seed_catalog: None) -> AsyncIterator[Api]:
    async with api_for(engine, database_url, env="production") as api:
        yield api
