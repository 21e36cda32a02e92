"""The database away: an operation that fails because PostgreSQL cannot be reached, or is
restarting, is SERVICE_UNAVAILABLE with HTTP 503 and Retry-After, logged as one warning
(no traceback); a failed mutation wrote nothing; once the database is back, the next
request succeeds (the pool pings a connection before handing it out).

PostgreSQL's outage is real: a throwaway cluster of this test's own (initdb, on a port of
its own) stopped mid-test and started again; the shared server is never touched. The
"refused" case is a port where nothing listens."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import sqlalchemy as sa

from db.engine import make_engine
from db.errors import database_unavailable, transient_sqlstate
from db.schema_setup import upgrade
from tests.support.api import Api, api_for, seed_small_catalog
from tests.support.server import free_port

QUERY = "{ books(first: 3) { edges { node { id title } } } }"
ME = "{ me { username } }"
REGISTER = (
    'mutation { register(username: "newcomer", password: "correct horse", categoryIds: [])'
    " { token } }"
)
RATE = 'mutation { rateBook(bookId: "3", stars: 4) { stars } }'
GRAPHQL_RESPONSE = "application/graphql-response+json"


def assert_unavailable(response: httpx.Response, media_type: str = "application/json") -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "2"
    assert response.headers["content-type"].startswith(media_type)
    body = response.json()
    assert body["errors"] == [
        {
            "message": "The database is unavailable; try again shortly.",
            "extensions": {"code": "SERVICE_UNAVAILABLE", "retryAfterSeconds": 2},
        }
    ]
    if media_type == GRAPHQL_RESPONSE:
        assert "data" not in body  # no data entry: the operation failed as a whole
    else:
        assert body["data"] is None


def assert_quiet(caplog: pytest.LogCaptureFixture) -> None:
    """One warning line per failed operation; nothing at ERROR, no traceback anywhere."""
    loud = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not loud, [(r.name, r.getMessage(), r.exc_text) for r in loud]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(m.startswith("database unavailable in ") for m in warnings), warnings


# -- classification -------------------------------------------------------------------


@pytest.mark.parametrize("sqlstate", ["08006", "08001", "57P01", "57P02", "57P03"])
def test_unavailable_sqlstates(sqlstate: str) -> None:
    error = psycopg.errors.lookup(sqlstate)("the database system is shutting down")
    wrapped = sa.exc.OperationalError("SELECT 1", {}, error)
    assert database_unavailable(error) and database_unavailable(wrapped)
    assert transient_sqlstate(wrapped) is None  # never run again by the retry loop


def test_not_unavailable() -> None:
    for error in (
        sqlite3.OperationalError("database is locked"),
        sqlite3.OperationalError("unable to open database file"),
        sqlite3.OperationalError("disk I/O error"),
        psycopg.errors.lookup("40P01")("deadlock detected"),
        psycopg.errors.lookup("57014")("canceling statement due to statement timeout"),
        psycopg.errors.lookup("23505")("duplicate key"),
        ValueError("a bug"),
    ):
        assert not database_unavailable(error), error
        assert not database_unavailable(sa.exc.OperationalError("SELECT 1", {}, error))


# -- refused: nothing listens ---------------------------------------------------------


async def test_refused(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    url = f"postgresql://bookrec:bookrec@127.0.0.1:{free_port()}/bookrec"
    engine = make_engine(url)
    caplog.set_level(logging.INFO)
    try:
        async with api_for(engine, url) as api:
            assert_unavailable(await api.post(QUERY))
            assert_unavailable(await as_graphql_response(api, QUERY), GRAPHQL_RESPONSE)
            assert_unavailable(await api.post(REGISTER))
            health = await api.client.get("/healthz")
            assert health.status_code == 503
            assert health.json()["database"].startswith("unreachable")
    finally:
        engine.dispose()
    assert_quiet(caplog)


# -- a real outage: a cluster of our own, stopped and started again -------------------


class Cluster:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        # As root, the cluster is the postgres user's (PostgreSQL refuses to run as root).
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgresql://bookrec@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.prefix, *args], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", "bookrec", "--auth=trust", "-E", "UTF8",
            "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.root / "log"), "-w", "start")  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if not (shutil.which("initdb") and shutil.which("pg_ctl")):
        pytest.skip("initdb/pg_ctl not installed")
    root = Path(tempfile.mkdtemp(prefix="bookrec-outage-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    found = Cluster(root)
    try:
        found.init()
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"cannot make a throwaway PostgreSQL cluster: {exc}")
    found.start()
    try:
        yield found
    finally:
        subprocess.run(
            [*found.prefix, "pg_ctl", "-D", str(found.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


def ratings(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM rating")).scalar_one())


async def test_restart_mid_test(cluster: Cluster, caplog: pytest.LogCaptureFixture) -> None:
    upgrade(cluster.url)
    engine = make_engine(cluster.url)
    seed_small_catalog(engine)
    try:
        async with api_for(engine, cluster.url) as api:
            token = await api.register("reader")
            await warm(api, token)  # the pool now holds connections that the stop will kill

            cluster.stop()
            caplog.clear()
            caplog.set_level(logging.INFO)
            assert_unavailable(await api.post(QUERY))
            assert_unavailable(await api.post(ME, token=token))
            assert_unavailable(await as_graphql_response(api, QUERY), GRAPHQL_RESPONSE)
            assert_unavailable(await api.post(RATE, token=token))
            assert_unavailable(await api.post(REGISTER))
            assert (await api.client.get("/healthz")).status_code == 503
            assert_quiet(caplog)

            cluster.start()
            # The very first request after the restart succeeds: no dead connection is
            # handed out, though every pooled one died with the old server.
            assert (await api.ok(QUERY))["books"]["edges"]
            assert ratings(engine) == 0  # the failed mutations wrote nothing
            assert users(engine) == ["reader"]
            assert (await api.ok(RATE, token=token))["rateBook"]["stars"] == 4
            assert (await api.ok(ME, token=token))["me"]["username"] == "reader"
            assert (await api.client.get("/healthz")).status_code == 200

            # Connections held in the pool across a stop and start (nothing in flight):
            # pre-ping replaces them, so no request fails at all.
            await warm(api, token)
            cluster.stop()
            cluster.start()
            caplog.clear()
            assert (await api.ok(QUERY))["books"]["edges"]
            assert (await api.ok('mutation { rateBook(bookId: "1", stars: 2) { stars } }',
                                 token=token))["rateBook"]["stars"] == 2  # fmt: skip
            assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert ratings(engine) == 2
    finally:
        engine.dispose()


def users(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT username FROM app_user")).scalars())


async def warm(api: Api, token: str) -> None:
    for _ in range(3):
        await api.ok(QUERY)
        await api.ok(ME, token=token)


async def as_graphql_response(api: Api, query: str) -> httpx.Response:
    return await api.client.post(
        "/graphql", json={"query": query}, headers={"Accept": GRAPHQL_RESPONSE}
    )


async def test_connection_killed_in_flight(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    """A request whose connection dies under it (what a restart does to those in flight,
    57P01 admin_shutdown): SERVICE_UNAVAILABLE, quietly, on the fast read path (a raw
    DB-API cursor) and in a session; the connection is not put back in the pool, and the
    next request succeeds."""
    from db.fastread import FastReads
    from db.session import UnitOfWork, read_fast

    engine = make_engine(cluster.url)
    admin = make_engine(cluster.url, isolation_level="AUTOCOMMIT")

    def terminate(pid: int) -> None:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})

    def fast(db: FastReads) -> None:
        driver = db._connection
        terminate(driver.info.backend_pid)
        driver.execute("SELECT 1")

    def in_session(session: sa.orm.Session) -> None:
        driver = session.connection().connection.driver_connection
        assert driver is not None
        terminate(driver.info.backend_pid)
        session.execute(sa.text("SELECT 1"))

    caplog.set_level(logging.INFO)
    try:
        for attempt in (
            lambda: read_fast(engine, fast),
            lambda: UnitOfWork(engine).run(in_session),
        ):
            with pytest.raises(Exception) as raised:
                await attempt()
            assert database_unavailable(raised.value), repr(raised.value)
        unit = UnitOfWork(engine)
        unit.writes = True
        with pytest.raises(Exception) as raised:
            await unit.run(in_session)
        assert database_unavailable(raised.value), repr(raised.value)
        await unit.rollback()  # what the unit of work does next: quiet, not raising

        loud = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
        assert not loud, [(r.name, r.getMessage(), r.exc_text) for r in loud]
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()
        admin.dispose()
