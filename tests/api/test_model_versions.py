"""Staff's view of the model store: versions with their manifests' held-out metrics beside
the popularity baseline, architecture, creation time and loss curve; rollback through the
API, the same as `bookrec model rollback`."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from artifact import MANIFEST, ModelStore
from tests.support.api import Api, api_for, make_staff
from tests.support.artifacts import build_artifact, publish

VERSIONS = """{ modelVersions { version isCurrent createdAt arch
  metrics { name model popularity } lossCurve { epoch loss validationLoss } } }"""
ROLLBACK = "mutation { rollbackModel { version isCurrent arch } }"


async def _staff(api: Api, engine: sa.Engine) -> str:
    token = await api.register("keeper")
    make_staff(engine, "keeper")
    return token


async def test_versions_carry_their_manifests(
    rec_api: Api, engine: sa.Engine, model_dir: Path
) -> None:
    staff = await _staff(rec_api, engine)
    versions = (await rec_api.ok(VERSIONS, token=staff))["modelVersions"]
    assert [(v["version"], v["isCurrent"]) for v in versions] == [
        ("v0002", True),
        ("v0001", False),
    ]
    for v in versions:
        manifest = json.loads((model_dir / v["version"] / MANIFEST).read_text())
        assert v["arch"] == manifest["arch"] == "default"
        assert v["createdAt"].startswith(manifest["created_at"][:19])
        metrics = {m["name"]: m for m in v["metrics"]}
        assert {"rmse", "ndcg@10", "map@10"} <= set(metrics)
        assert "fit_seconds" not in metrics and "users" not in metrics
        ndcg = metrics["ndcg@10"]
        assert ndcg["model"] == manifest["metrics"]["ndcg@10"]
        assert ndcg["popularity"] == manifest["baseline_metrics"]["ndcg@10"]
        # The training run recorded the curve of its early-stopping fit, epoch by epoch.
        curve = v["lossCurve"]
        recorded = manifest["loss_curve"]
        assert recorded["fit"] == "selection"
        assert [p["epoch"] for p in curve] == list(range(1, len(curve) + 1))
        assert len(curve) >= 1 and all(p["loss"] > 0 for p in curve)
        assert all(p["validationLoss"] is not None and p["validationLoss"] > 0 for p in curve)
        assert [p["loss"] for p in curve] == [p["loss"] for p in recorded["points"]]


async def test_an_artifact_older_than_the_curve_has_an_empty_one(
    engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    build_artifact(models / "v0001", metrics={"rmse": 0.9, "ndcg@10": 0.3})
    publish(models, "v0001")
    (models / "v0002").mkdir()  # a broken version: listed, with nothing readable
    async with api_for(engine, database_url, model_dir=models) as api:
        staff = await _staff(api, engine)
        versions = (await api.ok(VERSIONS, token=staff))["modelVersions"]
    assert versions[0] == {
        "version": "v0002",
        "isCurrent": False,
        "createdAt": None,
        "arch": None,
        "metrics": [],
        "lossCurve": [],
    }
    assert versions[1]["isCurrent"] is True and versions[1]["lossCurve"] == []
    assert {m["name"]: m["model"] for m in versions[1]["metrics"]} == {"rmse": 0.9, "ndcg@10": 0.3}


async def test_rollback_switches_current_and_this_process_serves_it(
    rec_api: Api, engine: sa.Engine, model_dir: Path
) -> None:
    staff = await _staff(rec_api, engine)
    assert (await rec_api.ok("{ modelInfo { version } }"))["modelInfo"]["version"] == "v0002"
    done = (await rec_api.ok(ROLLBACK, token=staff))["rollbackModel"]
    assert done == {"version": "v0001", "isCurrent": True, "arch": "default"}
    assert ModelStore(model_dir).current() == "v0001"
    assert (await rec_api.ok("{ modelInfo { version } }"))["modelInfo"]["version"] == "v0001"
    current = [
        v["version"]
        for v in (await rec_api.ok(VERSIONS, token=staff))["modelVersions"]
        if v["isCurrent"]
    ]
    assert current == ["v0001"]
    # Nothing older than v0001: a clear error, and CURRENT stays.
    error = await rec_api.error(ROLLBACK, token=staff)
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert error["message"] == (
        "There is no version older than v0001 that passes the checks to roll back to."
    )
    assert str(model_dir) not in error["message"]
    assert ModelStore(model_dir).current() == "v0001"


async def test_rollback_with_no_model_at_all_is_a_clear_error(
    engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    async with api_for(engine, database_url, model_dir=tmp_path / "none") as api:
        staff = await _staff(api, engine)
        assert (await api.ok(VERSIONS, token=staff))["modelVersions"] == []
        error = await api.error(ROLLBACK, token=staff)
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert error["message"] == "There is no current model to roll back from."
