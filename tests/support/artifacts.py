"""Hand-made artifacts (onnx.helper, no TensorFlow), written through the artifact package:
small dot-product models whose every number the tests know."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from artifact import MANIFEST, SCHEMA_VERSION, ModelStore, write_manifest
from inference import Recommender


def _graph(inputs, nodes, inits, n_books):
    outputs = [
        helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", n_books])
        for n in ("scores", "stars")
    ]
    graph = helper.make_graph(
        nodes, "g", inputs, outputs, [numpy_helper.from_array(v, k) for k, v in inits.items()]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def build_artifact(
    out: Path,
    n_users: int = 6,
    n_books: int = 8,
    dim: int = 3,
    seed: int = 0,
    input_name: str = "user_index",
    nan_user: int | None = None,
    version: str = "v0001",
    metrics: dict | None = None,
    fold_in: dict | None = None,
    user_ids: np.ndarray | None = None,
    book_ids: np.ndarray | None = None,
    flat_bias: bool = False,
) -> dict:
    """A dot-product model: scores = U V^T + c; stars = mu + b_u + b_i + U V^T. Returns params.
    `user_ids`/`book_ids`: the ids it knows (default: 100.. and 2000, 2002, ..), which
    give n_users/n_books; `flat_bias`: c = 0, so that only the random vectors rank (a
    deliberately poor model of a real catalog)."""
    if user_ids is not None:
        n_users = len(user_ids)
    if book_ids is not None:
        n_books = len(book_ids)
    rng = np.random.default_rng(seed)
    U = rng.normal(0, 0.5, (n_users, dim)).astype(np.float32)
    V = rng.normal(0, 0.5, (n_books, dim)).astype(np.float32)
    bu = rng.normal(0, 0.1, n_users).astype(np.float32)
    bi = rng.normal(0, 0.1, n_books).astype(np.float32)
    c = np.zeros(n_books, np.float32) if flat_bias else np.linspace(0.3, 0.0, n_books)
    c = c.astype(np.float32)
    mu = np.float32(3.5)
    if nan_user is not None:
        U[nan_user] = np.nan
    out.mkdir(parents=True, exist_ok=True)
    vt = {"Vt": V.T.copy(), "c": c, "bi": bi, "mu": np.array([mu], np.float32)}
    g1 = _graph(
        [helper.make_tensor_value_info(input_name, TensorProto.INT64, ["N"])],
        [
            helper.make_node("Gather", ["U", input_name], ["u"], axis=0),
            helper.make_node("Gather", ["bu", input_name], ["b"], axis=0),
            helper.make_node("MatMul", ["u", "Vt"], ["dot"]),
            helper.make_node("Add", ["dot", "c"], ["scores"]),
            helper.make_node("Unsqueeze", ["b", "axes"], ["b2"]),
            helper.make_node("Add", ["dot", "b2"], ["s1"]),
            helper.make_node("Add", ["s1", "bi"], ["s2"]),
            helper.make_node("Add", ["s2", "mu"], ["stars"]),
        ],
        {**vt, "U": U, "bu": bu, "axes": np.array([1], np.int64)},
        n_books,
    )
    g2 = _graph(
        [
            helper.make_tensor_value_info("user_vector", TensorProto.FLOAT, ["N", dim]),
            helper.make_tensor_value_info("user_bias", TensorProto.FLOAT, ["N"]),
        ],
        [
            helper.make_node("MatMul", ["user_vector", "Vt"], ["dot"]),
            helper.make_node("Add", ["dot", "c"], ["scores"]),
            helper.make_node("Unsqueeze", ["user_bias", "axes"], ["b2"]),
            helper.make_node("Add", ["dot", "b2"], ["s1"]),
            helper.make_node("Add", ["s1", "bi"], ["s2"]),
            helper.make_node("Add", ["s2", "mu"], ["stars"]),
        ],
        {**vt, "axes": np.array([1], np.int64)},
        n_books,
    )
    onnx.save(g1, out / "score_user.onnx")
    onnx.save(g2, out / "score_vector.onnx")
    if user_ids is None:
        user_ids = np.arange(100, 100 + n_users, dtype=np.int64)
    if book_ids is None:
        book_ids = np.arange(1000, 1000 + n_books, dtype=np.int64) * 2
    user_ids = np.asarray(user_ids, dtype=np.int64)
    book_ids = np.asarray(book_ids, dtype=np.int64)
    arrays: dict[str, np.ndarray] = {
        "user_ids": user_ids,
        "book_ids": book_ids,
        "book_factors": V,
        "book_bias": bi,
        # the graph's ranking scores are (u I) . v + c: identity projection
        "rank_projection": np.eye(dim, dtype=np.float32),
        "rank_bias": c,
    }
    for name, values in arrays.items():
        np.save(out / f"{name}.npy", values, allow_pickle=False)
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "version": version,
        "created_at": "2026-01-01T00:00:00+00:00",
        "arch": "fake",
        "hyperparameters": {"dim": dim},
        "frameworks": {},
        "data_fingerprint": "0" * 64,
        "metrics": metrics or {"ndcg@10": 0.3, "rmse": 0.9},
        "baseline_metrics": {},
        "rating_scale": [1.0, 5.0],
        "rating_mean": 3.5,
        "n_users": n_users,
        "n_books": n_books,
        "fold_in": {"kind": "ridge", "l2": 0.1, "global_mean": float(mu), **(fold_in or {})},
        "arrays": {n: f"{n}.npy" for n in arrays},
        "graphs": {
            "score_user": {
                "file": "score_user.onnx",
                "inputs": {"user_index": ["N"]},
                "outputs": {"scores": ["N", n_books], "stars": ["N", n_books]},
            },
            "score_vector": {
                "file": "score_vector.onnx",
                "inputs": {"user_vector": ["N", dim], "user_bias": ["N"]},
                "outputs": {"scores": ["N", n_books], "stars": ["N", n_books]},
            },
        },
    }
    rehash(out, manifest)
    return {
        "U": U,
        "V": V,
        "bu": bu,
        "bi": bi,
        "c": c,
        "mu": float(mu),
        "user_ids": user_ids,
        "book_ids": book_ids,
    }


def rehash(out: Path, manifest: dict | None = None) -> None:
    """Recompute the manifest's checksums (to forge artifacts that pass the checksum step).
    The manifest is read as raw JSON: a forged one need not be valid."""
    if manifest is None:
        manifest = json.loads((out / MANIFEST).read_text())
    write_manifest(out, manifest)


def publish(model_dir: Path, version: str) -> None:
    """Make `version` current, as `bookrec train` does: only after it loads for serving."""
    ModelStore(model_dir).publish(version, check=Recommender.load)


def current_version(model_dir: Path) -> str | None:
    return ModelStore(model_dir).current()


def add_random_version(model_dir: Path, user_ids: np.ndarray, book_ids: np.ndarray) -> str:
    """A deliberately poor model in the store: random vectors over these readers and books,
    in the same artifact format, written as the next version (not made current)."""
    store = ModelStore(model_dir)
    with store.new_version() as (version, staging):
        build_artifact(
            staging,
            dim=8,
            seed=99,
            version=version,
            user_ids=user_ids,
            book_ids=book_ids,
            flat_bias=True,
            metrics={"ndcg@10": 0.0, "rmse": 9.9},
        )
    return version
