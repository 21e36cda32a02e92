"""Keras -> ONNX through tf.function with explicit input signatures, plus a parity check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import onnxruntime as ort
import tensorflow as tf
import tf2onnx

OPSET = 17
PARITY_TOLERANCE = 1e-4


class ParityError(RuntimeError):
    """Keras and onnxruntime disagree on the same inputs."""


def _export(fn, signature, path: Path) -> None:
    tf2onnx.convert.from_function(fn, input_signature=signature, opset=OPSET, output_path=str(path))


def export_graphs(model: keras.Model, out_dir: Path, folds_in: bool) -> dict[str, dict[str, Any]]:
    """Write score_user.onnx (and score_vector.onnx when the architecture folds in); return
    the graph specs for the manifest."""
    n_books = int(model.n_books)
    graphs: dict[str, dict[str, Any]] = {}
    # The same outputs with less work where the model has it (readers: one product with
    # the books' non-zero columns); check_parity compares the graphs with the model itself.
    compact = getattr(model, "compact_scoring", lambda: None)()
    score_all, score_vector_of = compact or (model.score_all, getattr(model, "score_vector", None))

    @tf.function
    def score_user(user_index):
        scores, stars = score_all(user_index)
        return {"scores": tf.identity(scores), "stars": tf.identity(stars)}

    _export(
        score_user,
        [tf.TensorSpec([None], tf.int64, name="user_index")],
        out_dir / "score_user.onnx",
    )
    graphs["score_user"] = {
        "file": "score_user.onnx",
        "inputs": {"user_index": ["N"]},
        "outputs": {"scores": ["N", n_books], "stars": ["N", n_books]},
    }
    if folds_in:
        dim = int(model.dim)

        @tf.function
        def score_vector(user_vector, user_bias):
            scores, stars = score_vector_of(user_vector, user_bias)
            return {"scores": tf.identity(scores), "stars": tf.identity(stars)}

        signature = [
            tf.TensorSpec([None, dim], tf.float32, name="user_vector"),
            tf.TensorSpec([None], tf.float32, name="user_bias"),
        ]
        _export(score_vector, signature, out_dir / "score_vector.onnx")
        graphs["score_vector"] = {
            "file": "score_vector.onnx",
            "inputs": {"user_vector": ["N", dim], "user_bias": ["N"]},
            "outputs": {"scores": ["N", n_books], "stars": ["N", n_books]},
        }
    return graphs


def check_parity(model: keras.Model, out_dir: Path, seed: int = 0) -> float:
    """Max |Keras - onnxruntime| over fixed inputs; raises ParityError above the tolerance."""
    rng = np.random.default_rng(seed)
    users = np.unique(
        np.concatenate([[0, model.n_users - 1], rng.integers(0, model.n_users, 16)])
    ).astype(np.int64)
    session = ort.InferenceSession(
        str(out_dir / "score_user.onnx"), providers=["CPUExecutionProvider"]
    )
    worst = 0.0
    onnx_scores, onnx_stars = session.run(["scores", "stars"], {"user_index": users})
    keras_scores, keras_stars = (np.asarray(t) for t in model.score_all(tf.constant(users)))
    worst = max(
        worst,
        float(np.max(np.abs(onnx_scores - keras_scores))),
        float(np.max(np.abs(onnx_stars - keras_stars))),
    )
    if (out_dir / "score_vector.onnx").exists():
        vec = rng.normal(0, 0.3, (8, int(model.dim))).astype(np.float32)
        bias = rng.normal(0, 0.3, 8).astype(np.float32)
        session = ort.InferenceSession(
            str(out_dir / "score_vector.onnx"), providers=["CPUExecutionProvider"]
        )
        o = session.run(["scores", "stars"], {"user_vector": vec, "user_bias": bias})
        k = [np.asarray(t) for t in model.score_vector(tf.constant(vec), tf.constant(bias))]
        worst = max(worst, *(float(np.max(np.abs(a - b))) for a, b in zip(o, k, strict=True)))
    if not np.isfinite(worst) or worst > PARITY_TOLERANCE:
        raise ParityError(f"Keras vs ONNX max abs diff {worst:.3g} > {PARITY_TOLERANCE}")
    return worst


def framework_versions() -> dict[str, Any]:
    import onnx

    return {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "tf2onnx": tf2onnx.__version__,
        "onnx": onnx.__version__,
        "onnx_opset": OPSET,
        "onnxruntime": ort.__version__,
        "numpy": np.__version__,
    }
