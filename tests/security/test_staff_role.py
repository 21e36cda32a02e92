"""The staff role: set in the database (`bookrec user grant-staff`), read from it on every
staff check, so granting and revoking take effect on the next request."""

from __future__ import annotations

import sqlalchemy as sa

from tests.support.api import api_for, make_staff

ME = "{ me { username isStaff } }"


async def test_me_says_whether_the_reader_is_staff(engine: sa.Engine, database_url: str) -> None:
    async with api_for(engine, database_url) as api:
        token = await api.register("alice")
        assert (await api.ok(ME, token=token))["me"] == {"username": "alice", "isStaff": False}
        make_staff(engine, "alice")
        assert (await api.ok(ME, token=token))["me"]["isStaff"] is True
        make_staff(engine, "alice", staff=False)
        assert (await api.ok(ME, token=token))["me"]["isStaff"] is False
