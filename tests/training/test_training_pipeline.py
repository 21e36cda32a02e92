"""train -> export -> parity -> artifact -> gate, on tiny synthetic data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from artifact import ModelStore
from inference import Recommender
from training import archs
from training.data import encode, normalise, rating_scale
from training.export import PARITY_TOLERANCE, check_parity, export_graphs
from training.fit import fit
from training.pipeline import evaluate_frame, train_frame

MANIFEST_KEYS = {
    "version",
    "created_at",
    "arch",
    "hyperparameters",
    "frameworks",
    "data_fingerprint",
    "metrics",
    "baseline_metrics",
    "rating_scale",
    "graphs",
    "files",
    "arrays",
}


@pytest.mark.parametrize("arch", ["seed000", "seed003", "joint", "default"])
def test_each_architecture_trains_exports_and_serves(arch, ratings, tmp_path) -> None:
    result = train_frame(ratings, tmp_path, arch=arch, epochs=2, verbose=0)
    assert result.published and result.version == "v0001"
    assert ModelStore(tmp_path).current() == "v0001"
    assert result.parity_max_abs_diff <= PARITY_TOLERANCE
    manifest = json.loads((result.path / "manifest.json").read_text())
    assert set(manifest) >= MANIFEST_KEYS and manifest["arch"] == arch
    assert {"tensorflow", "keras", "tf2onnx", "onnx_opset", "onnxruntime"} <= set(
        manifest["frameworks"]
    )
    assert set(manifest["files"]) >= {"score_user.onnx", "loss.png", "user_ids.npy", "book_ids.npy"}
    for key in ("rmse", "mae", "ndcg@10", "p@10", "r@10", "map@10"):
        assert np.isfinite(result.metrics[key]) and np.isfinite(result.baseline_metrics[key])
    assert result.arch == arch and result.baseline_metrics["users"] > 0
    rec = Recommender.load(tmp_path)
    top = rec.recommend(1, k=5, exclude=ratings.loc[ratings.user_id == 1, "book_id"])
    assert len(top) == 5 and not set(b for b, _ in top) & set(
        ratings.loc[ratings.user_id == 1, "book_id"]
    )
    assert len(rec.recommend_for_history([(7, 5.0), (10, 4.0)], k=3)) == 3
    stars = rec.predict_stars([1, 2], [7, 10])
    assert np.all((stars >= 1) & (stars <= 5))


def test_training_is_deterministic_for_a_seed(ratings) -> None:
    frame = normalise(ratings)
    data, scale = encode(frame), rating_scale(frame)
    users = np.arange(data.n_users)
    runs = [
        np.asarray(
            fit(archs.get("default"), data, scale, seed=3, epochs=2, verbose=0).model.score_all(
                users
            )[1]
        )
        for _ in range(2)
    ]
    refit = fit(archs.get("default"), data, scale, seed=4, epochs=2, verbose=0)
    other = np.asarray(refit.model.score_all(users)[1])
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], other)


def test_early_stopping_keeps_the_best_validation_epoch(ratings) -> None:
    frame = normalise(ratings)
    data = encode(frame)
    val_u, val_b, val_r = data.users[::5], data.books[::5], data.stars[::5]
    result = fit(
        archs.get("default"),
        data,
        rating_scale(frame),
        seed=0,
        epochs=6,
        verbose=0,
        validation=(val_u, val_b, val_r),
    )
    objective = result.history["val_objective"]
    assert result.epochs == int(np.argmax(objective)) + 1
    assert {"val_rmse", "val_ndcg"} <= set(result.history)


def test_export_parity_for_both_graphs(ratings, tmp_path) -> None:
    frame = normalise(ratings)
    data = encode(frame)
    model = fit(archs.get("default"), data, rating_scale(frame), seed=0, epochs=1, verbose=0).model
    graphs = export_graphs(model, tmp_path, folds_in=True)
    assert set(graphs) == {"score_user", "score_vector"}
    assert check_parity(model, tmp_path) <= PARITY_TOLERANCE


def test_promotion_gate_keeps_a_worse_model_off_current(ratings, tmp_path) -> None:
    first = train_frame(ratings, tmp_path, arch="seed003", epochs=1, verbose=0)
    assert first.published
    # Pretend the current version was excellent: any new model is now worse.
    manifest_path = first.path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["metrics"].update({"ndcg@10": 1.0, "rmse": 0.0})
    manifest_path.write_text(json.dumps(manifest))
    gated = train_frame(ratings, tmp_path, arch="seed003", epochs=1, verbose=0)
    assert not gated.published and "NOT current" in gated.gate
    store = ModelStore(tmp_path)
    assert store.current() == "v0001" and store.versions() == ["v0001", "v0002"]
    Recommender.load(gated.path)  # kept on disk, and valid
    forced = train_frame(ratings, tmp_path, arch="seed003", epochs=1, verbose=0, force=True)
    assert forced.published and ModelStore(tmp_path).current() == "v0003"


def test_evaluate_labels_the_published_model_in_sample(ratings, tmp_path) -> None:
    train_frame(ratings, tmp_path, arch="seed003", epochs=1, verbose=0)
    evaluation = evaluate_frame(ratings, tmp_path)
    labels = [name for name, _ in evaluation.rows]
    assert "IN-SAMPLE" in evaluation.title and labels[0].endswith("in-sample")
    assert labels[1:] == ["most-rated", "seed003 v0001 held-out*", "most-rated*"]
    assert evaluation.rows[2][1] == Recommender.load(tmp_path).manifest["metrics"]


def test_in_batch_softmax_for_large_catalogues_trains_and_exports(ratings, tmp_path) -> None:
    import dataclasses

    frame = normalise(ratings)
    data = encode(frame)
    spec = archs.get("joint")  # the in-batch option is JointFactorModel's
    spec = dataclasses.replace(
        spec, batch_size=32, model_params={**spec.model_params, "softmax": "in_batch"}
    )
    result = fit(spec, data, rating_scale(frame), seed=0, epochs=2, verbose=0)
    assert result.model.softmax == "in_batch"
    assert np.all(np.isfinite(result.history["loss"]))
    counts = np.bincount(data.books, minlength=data.n_books)
    np.testing.assert_allclose(
        np.exp(np.asarray(result.model.log_q)), counts / counts.sum(), rtol=1e-5
    )
    export_graphs(result.model, tmp_path, folds_in=True)
    assert check_parity(result.model, tmp_path) <= PARITY_TOLERANCE


def test_tiny_database_without_a_holdout_still_trains(tmp_path) -> None:
    tiny = normalise(
        pd.DataFrame(
            {"user_id": [1, 1, 2, 2, 3], "book_id": [10, 11, 10, 12, 11], "stars": [4, 5, 3, 2, 5]}
        )
    )
    result = train_frame(tiny, tmp_path, arch="default", epochs=2, verbose=0)
    assert result.published and result.metrics["users"] == 0
    rec = Recommender.load(tmp_path)
    assert rec.n_users == 3 and rec.n_books == 3


@pytest.mark.parametrize("arch, warm", [("readers", True), ("joint", False)])
def test_at_scale_the_selection_fit_is_the_holdout_model(
    ratings, tmp_path, monkeypatch, arch, warm
) -> None:
    """Above LARGE_DATA_RATINGS (lowered here): no separate holdout fit; the final fit is
    warm-started for a quarter of the epochs where the architecture can, cold otherwise."""
    from training import pipeline

    monkeypatch.setattr(pipeline, "LARGE_DATA_RATINGS", 0)
    result = train_frame(ratings, tmp_path, arch=arch, epochs=4, verbose=0)
    assert "selection_fit_s" in result.phase_seconds
    assert "holdout_fit_s" not in result.phase_seconds
    hyper = Recommender.load(result.path).manifest["hyperparameters"]
    assert hyper.get("final_fit_warm_epochs") == (
        max(1, round(result.epochs / 4)) if warm else None
    )
    assert ("warm_start" in result.history) is warm
    assert np.isfinite(result.metrics["rmse"])


def test_readers_with_implicit_factors_export_and_fold_in(ratings, tmp_path) -> None:
    """The SVD++ option (off in the registered config) end to end: the served vectors are
    p + the history's implicit part, shipped as user_factors, and a fold-in uses the y's."""
    import dataclasses

    from training.writer import base_manifest, write_artifact

    frame = normalise(ratings)
    data, scale = encode(frame), rating_scale(frame)
    spec = archs.get("readers")
    spec = dataclasses.replace(spec, model_params={**spec.model_params, "implicit": True})
    fitted = fit(spec, data, scale, seed=0, epochs=2, verbose=0)
    manifest = base_manifest(spec, 2, 0, frame, scale)
    manifest.update(version="t", metrics={}, baseline_metrics={})
    write_artifact(tmp_path, fitted, data, spec, manifest)
    rec = Recommender.load(tmp_path)
    assert rec.manifest["fold_in"] == {
        **rec.manifest["fold_in"],
        "kind": "readers",
        "implicit": True,
    }
    served = np.load(tmp_path / "user_factors.npy")
    p = np.asarray(fitted.model.user_factors)
    assert np.abs(served - p).max() > 1e-4  # the implicit part is in what is served
    assert len(rec.recommend_for_history([(7, 5.0), (10, 4.0)], k=3)) == 3
