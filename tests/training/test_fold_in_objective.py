"""The numpy fold-in (inference.foldin.JointObjective) restates JointFactorModel's training
loss for one reader: here both are evaluated on the same fixed numbers, and their values and
gradients must agree, so that the two can never drift apart."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from inference.foldin import JointFoldIn, JointObjective
from training.archs.joint import JointFactorModel

N_USERS, N_BOOKS, DIM = 3, 7, 4
PARAMS = {"l2": 0.07, "rank_weight": 0.6, "rank_l2": 0.11, "global_mean": 3.4}


@pytest.fixture
def model() -> JointFactorModel:
    keras.utils.set_random_seed(5)
    m = JointFactorModel(N_USERS, N_BOOKS, dim=DIM, softmax="full", **PARAMS)
    m((np.zeros(1, np.int64), np.zeros(1, np.int64)))  # build
    rng = np.random.default_rng(11)
    for weight in (m.user_embedding.embeddings, m.book_embedding.embeddings):
        weight.assign(rng.normal(0, 0.6, weight.shape).astype("float32"))
    for weight in (m.user_bias.embeddings, m.book_bias.embeddings, m.rank_bias):
        weight.assign(rng.normal(0, 0.3, weight.shape).astype("float32"))
    m.rank_projection.kernel.assign(rng.normal(0, 0.5, (DIM, DIM)).astype("float32"))
    return m


def _arrays(m: JointFactorModel) -> dict[str, np.ndarray]:
    return {
        "book_factors": np.asarray(m.book_embedding.embeddings),
        "book_bias": np.asarray(m.book_bias.embeddings)[:, 0],
        "rank_projection": np.asarray(m.rank_projection.kernel),
        "rank_bias": np.asarray(m.rank_bias),
    }


def test_numpy_objective_equals_the_keras_loss_and_its_gradient(model: JointFactorModel) -> None:
    books = np.array([1, 3, 4, 6], dtype=np.int64)
    stars = np.array([4.5, 2.0, 5.0, 3.5], dtype=np.float32)
    n = books.size
    users = np.zeros(n, dtype=np.int64)  # a batch holding exactly reader 0's ratings
    with tf.GradientTape() as tape:
        y_pred = model((users, books))
        loss = model.compute_loss(x=(users, books), y=stars, y_pred=y_pred)
    grad_u, grad_b = tape.gradient(
        loss, [model.user_embedding.embeddings, model.user_bias.embeddings]
    )
    keras_grad_u = tf.convert_to_tensor(grad_u).numpy()[0].astype(np.float64)
    keras_grad_b = float(tf.convert_to_tensor(grad_b).numpy()[0, 0])

    arrays = _arrays(model)
    fold = JointFoldIn({"kind": "joint", **PARAMS}, arrays)
    objective = fold.objective(books, stars)
    assert isinstance(objective, JointObjective)
    u = np.asarray(model.user_embedding.embeddings)[0].astype(np.float64)
    b = float(np.asarray(model.user_bias.embeddings)[0, 0])
    l2 = PARAMS["l2"]
    constant = l2 * float((arrays["book_factors"][books].astype(np.float64) ** 2).sum())

    # n * (Keras batch-mean loss) = value - the bias prior + the books' own L2 (constant)
    np.testing.assert_allclose(
        n * float(loss), objective.value(u, b) - l2 * b * b + constant, rtol=1e-5
    )
    numpy_grad_u, numpy_grad_b = objective.gradient(u, b)
    np.testing.assert_allclose(n * keras_grad_u, numpy_grad_u, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(n * keras_grad_b, numpy_grad_b - 2 * l2 * b, rtol=1e-4, atol=1e-5)


def test_the_gradient_is_the_derivative_of_the_value(model: JointFactorModel) -> None:
    """Central differences on the numpy side alone: the fold-in's steps go downhill."""
    objective = JointFoldIn({"kind": "joint", **PARAMS}, _arrays(model)).objective(
        np.array([0, 2, 5]), np.array([1.0, 4.0, 5.0], dtype=np.float32)
    )
    rng = np.random.default_rng(3)
    u, b, eps = rng.normal(0, 0.5, DIM), 0.3, 1e-6
    grad_u, grad_b = objective.gradient(u, b)
    for i in range(DIM):
        step = np.zeros(DIM)
        step[i] = eps
        numeric = (objective.value(u + step, b) - objective.value(u - step, b)) / (2 * eps)
        assert numeric == pytest.approx(grad_u[i], rel=1e-5, abs=1e-6)
    numeric_b = (objective.value(u, b + eps) - objective.value(u, b - eps)) / (2 * eps)
    assert numeric_b == pytest.approx(grad_b, rel=1e-5, abs=1e-6)


def test_fold_in_lowers_the_objective(model: JointFactorModel) -> None:
    fold = JointFoldIn({"kind": "joint", **PARAMS}, _arrays(model))
    books, stars = np.array([1, 2, 6]), np.array([5.0, 4.5, 1.0], dtype=np.float32)
    objective = fold.objective(books, stars)
    start, start_bias = fold.ridge.vector(books, stars)
    folded, bias = fold.vector(books, stars)
    assert objective.value(folded.astype(np.float64), bias) < objective.value(
        start.astype(np.float64), start_bias
    )
