"""Incremental retraining decides warm or cold (training.incremental.plan), and a warm start
from a published artifact begins exactly at its vectors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from artifact import ModelStore
from training import archs
from training import data as data_mod
from training.incremental import WarmOptions, _load_arrays, plan


def _setup(trained_models: tuple[str, Path], tmp_path: Path) -> tuple[ModelStore, pd.DataFrame]:
    url, models = trained_models
    shutil.copytree(models, tmp_path / "models")
    return ModelStore(tmp_path / "models"), data_mod.load_ratings(url)


def test_warm_when_little_changed_cold_otherwise(trained_models, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, ratings = _setup(trained_models, tmp_path)
    spec = archs.get("default")
    warm = plan(store, spec, ratings, WarmOptions())
    assert warm.source == store.path("v0002") and "warm from v0002" in warm.reason
    assert warm.epochs == store.manifest("v0002")["hyperparameters"]["epochs"]

    assert plan(store, spec, ratings, WarmOptions(cold=True)).source is None
    other = plan(store, archs.get("joint"), ratings, WarmOptions())
    assert other.source is None and "arch 'default'" in other.reason

    newcomers = pd.DataFrame(  # 15 new readers on top of 40: 37% new
        {
            "user_id": np.repeat(np.arange(1000, 1015), 3),
            "book_id": np.tile([1, 2, 3], 15),
            "stars": 4.0,
        }
    )
    grown = pd.concat([ratings, newcomers], ignore_index=True)
    big = plan(store, spec, grown, WarmOptions(max_change=0.2))
    assert big.source is None and "changed since v0002" in big.reason
    assert plan(store, spec, grown, WarmOptions(max_change=0.5)).source is not None

    (store.root / "CURRENT").unlink()
    assert plan(store, spec, ratings, WarmOptions()).source is None


def test_a_warm_start_from_an_artifact_begins_at_its_vectors(trained_models, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, ratings = _setup(trained_models, tmp_path)
    spec = archs.get("default")
    arrays = _load_arrays(store.path("v0002"), store.manifest("v0002"))
    newcomer = pd.DataFrame({"user_id": [999] * 3, "book_id": [1, 2, 3], "stars": [5.0, 4.0, 5.0]})
    encoded = data_mod.encode(data_mod.normalise(pd.concat([ratings, newcomer])))
    fitted = spec.warm_fit_from(encoded, (0.5, 5.0), 1, 0, arrays, 0)  # zero epochs
    assert fitted is not None and fitted.history["warm_start"] == [40.0, 24.0]
    model = fitted.model
    known = np.searchsorted(encoded.user_ids, arrays["user_ids"])
    np.testing.assert_allclose(np.asarray(model.user_factors)[known], arrays["user_factors"])
    np.testing.assert_allclose(np.asarray(model.user_bias)[known], arrays["user_bias"])
    np.testing.assert_allclose(np.asarray(model.book_factors), arrays["book_factors"])
    np.testing.assert_allclose(np.asarray(model.kernel), arrays["rank_projection"])
    new_row = int(np.searchsorted(encoded.user_ids, 999))
    assert not np.asarray(model.user_factors)[new_row].any()  # a new reader starts at zero
