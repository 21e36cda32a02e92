"""The numpy fold-in of the `readers` architecture (inference.foldin.ReadersObjective)
restates ImplicitJointModel's batch loss for one reader: both are evaluated on the same fixed
numbers, with the implicit (history) factors on, and their values and gradients must agree."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from inference.foldin import ReadersFoldIn, ReadersObjective
from training.archs.readers_model import ImplicitJointModel

N_USERS, N_BOOKS, DIM = 3, 7, 4
PARAMS = {"l2": 0.07, "rank_weight": 0.6, "rank_l2": 0.11, "global_mean": 3.4}
BOOKS = np.array([1, 3, 4, 6], dtype=np.int32)
STARS = np.array([4.5, 2.0, 5.0, 3.5], dtype=np.float32)


@pytest.fixture
def model() -> ImplicitJointModel:
    keras.utils.set_random_seed(5)
    m = ImplicitJointModel(N_USERS, N_BOOKS, dim=DIM, implicit=True, l2_y=0.2, **PARAMS)
    rng = np.random.default_rng(11)
    for weight in (m.user_factors, m.book_factors, m.implicit_factors):
        weight.assign(rng.normal(0, 0.6, weight.shape).astype("float32"))
    for weight in (m.user_bias, m.book_bias, m.rank_bias):
        weight.assign(rng.normal(0, 0.3, weight.shape).astype("float32"))
    m.kernel.assign(rng.normal(0, 0.5, (DIM, DIM)).astype("float32"))
    return m


def _fold(m: ImplicitJointModel) -> ReadersFoldIn:
    arrays = {
        "book_factors": np.asarray(m.book_factors),
        "book_bias": np.asarray(m.book_bias),
        "rank_projection": np.asarray(m.kernel),
        "rank_bias": np.asarray(m.rank_bias),
        "implicit_factors": np.asarray(m.implicit_factors),
    }
    return ReadersFoldIn({"kind": "readers", "implicit": True, **PARAMS}, arrays)


def test_numpy_objective_equals_the_keras_loss_and_its_gradient(model) -> None:
    n = BOOKS.size
    users = tf.constant([0], tf.int32)  # a batch holding exactly reader 0's ratings
    seg = tf.zeros(n, tf.int32)
    with tf.GradientTape() as tape:
        loss = model.batch_loss(users, seg, tf.constant(BOOKS), tf.constant(STARS), [n])
    grad_p, grad_b = tape.gradient(loss, [model.user_factors, model.user_bias])
    keras_grad_p = tf.convert_to_tensor(grad_p).numpy()[0].astype(np.float64)
    keras_grad_b = float(tf.convert_to_tensor(grad_b).numpy()[0])

    fold = _fold(model)
    objective = fold.objective(BOOKS, STARS)
    assert isinstance(objective, ReadersObjective)
    assert np.abs(objective.base).sum() > 0.1  # the history part is really in play
    model.materialize(np.zeros(n, np.int64), BOOKS)  # x as score_user serves it
    x = np.asarray(model.served_users)[0].astype(np.float64)
    np.testing.assert_allclose(
        x, np.asarray(model.user_factors)[0] + objective.base, rtol=1e-5, atol=1e-6
    )
    b = float(np.asarray(model.user_bias)[0])
    l2 = PARAMS["l2"]
    constant = l2 * float((np.asarray(model.book_factors)[BOOKS].astype(np.float64) ** 2).sum())
    constant += 0.2 * float(
        (np.asarray(model.implicit_factors)[BOOKS].astype(np.float64) ** 2).sum()
    )

    # n * (Keras per-rating loss) = value - the bias prior + the books' own L2 (constants)
    np.testing.assert_allclose(
        n * float(loss), objective.value(x, b) - l2 * b * b + constant, rtol=1e-5
    )
    numpy_grad_x, numpy_grad_b = objective.gradient(x, b)  # d/dx = d/dp: x = base + p
    np.testing.assert_allclose(n * keras_grad_p, numpy_grad_x, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(n * keras_grad_b, numpy_grad_b - 2 * l2 * b, rtol=1e-4, atol=1e-5)


def test_the_gradient_is_the_derivative_of_the_value(model) -> None:
    objective = _fold(model).objective(BOOKS[:3], STARS[:3])
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


def test_fold_in_lowers_the_objective_from_the_ridge_or_a_warm_start(model) -> None:
    fold = _fold(model)
    objective = fold.objective(BOOKS, STARS)
    start, start_bias = fold.ridge_start(BOOKS, STARS)
    folded, bias = fold.vector(BOOKS, STARS)
    assert objective.value(folded.astype(np.float64), bias) < objective.value(
        start.astype(np.float64), start_bias
    )
    warm = (np.asarray(model.user_factors)[0] + objective.base.astype(np.float32), 0.4)
    refreshed, refreshed_bias = fold.vector(BOOKS, STARS, start=warm)
    assert objective.value(refreshed.astype(np.float64), refreshed_bias) < objective.value(
        warm[0].astype(np.float64), warm[1]
    )
    assert not np.allclose(refreshed, folded)  # the start is honoured, not ignored
