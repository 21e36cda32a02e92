"""The online loop end to end: simulated readers with hidden tastes use two server apps on
one database; an experiment between a deliberately poor model (current) and a trained one
(variant) shows the trained model's open rate higher with the interval excluding zero, and
promoting it makes both apps serve it to everyone."""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import numpy as np
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette

from app.asgi import create_app
from app.cli import main
from tests.support.api import Api, make_settings, make_staff
from tests.support.artifacts import add_random_version, publish
from tests.support.shop import Reader, Taste, Visits, visit
from tests.support.tiny_catalog import FANTASY, MYSTERY, NEW_BOOKS, populate

EXPERIMENT = """{ experiment { version controlVersion share openRateDifference
  differenceLow differenceHigh control { variant modelVersion impressions opens openRate }
  variant { variant modelVersion impressions opens openRate } } }"""


@contextlib.asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[Api]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client)


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(400):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def tastes(user_id: int) -> Taste:
    liked = [*FANTASY, NEW_BOOKS[0]] if user_id <= 20 else [*MYSTERY, NEW_BOOKS[1]]
    return Taste(frozenset(liked))


@pytest.fixture
def cli_env(database_url: str, model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOOKREC_DATABASE_URL", database_url)
    monkeypatch.setenv("BOOKREC_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("BOOKREC_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("BOOKREC_LOG_LEVEL", "WARNING")


async def test_an_experiment_finds_the_better_model_and_promoting_it_reaches_every_app(
    engine: sa.Engine,
    database_url: str,
    model_dir: Path,
    cli_env: None,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    populate(engine)
    trained = "v0002"
    poor = add_random_version(model_dir, np.arange(1, 41), np.arange(1, 27))
    publish(model_dir, poor)  # the shop serves the poor model; the trained one is tried
    settings = make_settings(database_url, model_dir=model_dir, model_poll_seconds=0.05)
    apps = [create_app(settings), create_app(settings)]  # two workers, one database
    async with serving(apps[0]) as first, serving(apps[1]) as second:
        apis = [first, second]
        services = [app.state.services for app in apps]
        await until(lambda: all(s.live_model.current.version == poor for s in services), poor)

        main(["model", "experiment", "start", trained, "--share", "0.5"])
        assert f"started: {trained} to 50%" in capsys.readouterr().out
        await until(
            lambda: all(
                s.recommendations.experiment is not None
                and s.live_model.variant is not None
                and s.live_model.variant.version == trained
                for s in services
            ),
            "both apps to follow the experiment",
        )
        readers = [Reader(u, services[0].tokens.issue(u), tastes(u)) for u in range(1, 41)]
        rng = random.Random(11)
        seen = Visits()
        for round_ in range(3):  # a reader's visits alternate between the two apps
            for reader in readers:
                await visit(apis[(reader.user_id + round_) % 2], reader, rng, 4, seen)
        assert seen.failed == 0 and seen.lists == 120 and seen.opened > 0, seen.errors
        for s in services:
            s.recommendations.recorder.flush()

        # Every reader stayed in one group on both apps, served that group's version.
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT user_id, variant, model_version FROM rec_list")
            ).all()
        groups: dict[int, set[tuple[str, str]]] = {}
        for user, variant, version in rows:
            groups.setdefault(user, set()).add((variant, version))
        assert all(len(g) == 1 for g in groups.values()), groups
        assert {g.pop() for g in groups.values()} == {("variant", trained), ("control", poor)}

        await first.register("boss")
        make_staff(engine, "boss")
        token = (
            await first.ok(
                'mutation { login(username: "boss", password: "correct horse") { token } }'
            )
        )["login"]["token"]
        found = (await second.ok(EXPERIMENT, token=token))["experiment"]
        assert (found["version"], found["controlVersion"], found["share"]) == (trained, poor, 0.5)
        assert found["variant"]["openRate"] > found["control"]["openRate"]
        assert found["differenceLow"] > 0, found  # the interval excludes zero
        assert found["variant"]["modelVersion"] == trained

        chart = tmp_path / "online.png"
        main(["report", "online", "--since", "1h", "--chart", str(chart)])
        report = capsys.readouterr().out
        assert re.search(r"95% interval \[\+0\.\d+, \+0\.\d+\].*excludes zero", report), report
        assert f"{trained}  variant" in report and f"{poor}  control" in report
        assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

        main(["model", "experiment", "promote"])
        assert f"promoted; {trained} is now current" in capsys.readouterr().out
        await until(
            lambda: all(
                s.live_model.current.version == trained
                and s.recommendations.experiment is None
                and s.live_model.variant is None
                for s in services
            ),
            "both apps to serve the promoted version",
        )
        for api in apis:
            assert (await api.ok("{ modelInfo { version } }"))["modelInfo"]["version"] == trained
            for reader in readers[:4]:
                assert services[0].recommendations.model_for(reader.user_id)[1] == "control"
            assert (await api.ok(EXPERIMENT, token=token))["experiment"] is None
        main(["model", "experiment", "status"])
        assert "promoted" in capsys.readouterr().out
