"""`bookrec model experiment`: refusals are clear exits, one experiment at a time, stored
in the database (not the models directory)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.cli import main


@pytest.fixture
def cli(database_url: str, model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BOOKREC_DATABASE_URL", database_url)
    monkeypatch.setenv("BOOKREC_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("BOOKREC_LOG_LEVEL", "WARNING")
    return model_dir


def test_experiment_commands(
    cli: Path, engine: sa.Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sorted(p.name for p in cli.iterdir())
    for argv, message in (
        (["start", "v0009"], "no model version v0009"),
        (["start", "v0002"], "is the current version already"),
        (["start", "v0001", "--share", "1"], "--share must be between 0 and 1"),
        (["stop"], "no experiment is running"),
        (["promote"], "no experiment is running"),
    ):
        with pytest.raises(SystemExit, match=message):
            main(["model", "experiment", *argv])
    main(["model", "experiment", "status"])
    assert "no experiment has been run" in capsys.readouterr().out
    main(["model", "experiment", "start", "v0001", "--share", "0.3"])
    with pytest.raises(SystemExit, match="running already"):
        main(["model", "experiment", "start", "v0001"])
    main(["model", "experiment", "status"])
    out = capsys.readouterr().out
    assert "v0001 to 30% of signed-in readers, control v0002" in out and "running" in out
    main(["model", "experiment", "stop"])
    assert "stopped" in capsys.readouterr().out
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT version, control_version, share, running, outcome FROM experiment")
        ).one()
    assert tuple(row) == ("v0001", "v0002", 0.3, None, "stopped")
    assert (cli / "CURRENT").read_text().strip() == "v0002"  # stop changes no model
    assert sorted(p.name for p in cli.iterdir()) == before  # nothing in the models dir


async def test_a_variant_that_fails_its_checks_is_refused_and_its_readers_get_control(
    rec_api: Any, engine: sa.Engine, model_dir: Path
) -> None:
    import asyncio
    import shutil

    from sqlmodel import Session

    from db import experiments
    from tests.support.api import login_as

    broken = model_dir / "v0003"
    shutil.copytree(model_dir / "v0001", broken)
    (broken / "book_factors.npy").write_bytes(b"not an array")
    with Session(engine) as session:  # as if started before the files were damaged
        experiments.start_experiment(session, "v0003", "v0002", 0.99, "salt")
        session.commit()
    for _ in range(200):
        health = (await rec_api.client.get("/healthz")).json()
        if health["model"]["variant_refused"]:
            break
        await asyncio.sleep(0.05)
    assert health["model"]["variant_refused"]["version"] == "v0003"
    assert health["model"]["variant"] is None and health["model"]["version"] == "v0002"
    token = await login_as(rec_api, engine, 3)
    query = "{ recommendations(first: 3) { listId } }"
    list_id = (await rec_api.ok(query, token=token))["recommendations"][0]["listId"]
    rec_api.client._transport.app.state.services.recommendations.recorder.flush()
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT variant, model_version FROM rec_list WHERE id = :i"), {"i": list_id}
        ).one()
    assert tuple(row) == ("control", "v0002")  # recorded as what it was: control
