"""`readers_pack`: a model with ranking reader vectors, and an ensemble of models, served as
one plain ImplicitJointModel. The packed rank-vector model's loss must BE the member's (so
the numpy fold-in objective, proved equal to the plain model's loss by
test_readers_fold_in_objective.py, is the training objective), an ensemble must serve the
members' mean, and unpacking must give the members' weights back (warm start)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from inference.foldin import ReadersFoldIn
from training.archs import readers_pack
from training.archs.readers_model import ImplicitJointModel

N_USERS, N_BOOKS, DIM = 3, 7, 4
PARAMS = {"l2": 0.07, "rank_weight": 0.6, "rank_l2": 0.11, "global_mean": 3.4}
BOOKS = np.array([1, 3, 4, 6], dtype=np.int32)
STARS = np.array([4.5, 2.0, 5.0, 3.5], dtype=np.float32)


def _member(seed: int, implicit: bool = True) -> ImplicitJointModel:
    keras.utils.set_random_seed(seed)
    m = ImplicitJointModel(
        N_USERS, N_BOOKS, dim=DIM, implicit=implicit, l2_y=0.2, rank_vector=True, **PARAMS
    )
    rng = np.random.default_rng(seed)
    for weight in (m.user_factors, m.book_factors, m.implicit_factors, m.rank_users):
        weight.assign(rng.normal(0, 0.6, weight.shape).astype("float32"))
    for weight in (m.user_bias, m.book_bias, m.rank_bias):
        weight.assign(rng.normal(0, 0.3, weight.shape).astype("float32"))
    m.kernel.assign(rng.normal(0, 0.5, (DIM, DIM)).astype("float32"))
    if not implicit:
        m.implicit_factors.assign(np.zeros((N_BOOKS, DIM), np.float32))
    m.materialize(np.zeros(BOOKS.size, np.int64), BOOKS)
    return m


def _loss(m: ImplicitJointModel) -> float:
    seg = tf.zeros(BOOKS.size, tf.int32)
    users = tf.constant([0], tf.int32)
    return float(m.batch_loss(users, seg, tf.constant(BOOKS), tf.constant(STARS), [BOOKS.size]))


def test_a_packed_rank_vector_model_has_the_members_loss_and_fold_in_objective() -> None:
    member = _member(5)
    packed = readers_pack.pack([member])
    assert packed is not member and packed.dim == 2 * DIM and not packed.rank_vector
    assert _loss(packed) == pytest.approx(_loss(member), rel=1e-6)
    arrays = {
        "book_factors": np.asarray(packed.book_factors),
        "book_bias": np.asarray(packed.book_bias),
        "rank_projection": np.asarray(packed.kernel),
        "rank_bias": np.asarray(packed.rank_bias),
        "implicit_factors": np.asarray(packed.implicit_factors),
    }
    fold = ReadersFoldIn({"kind": "readers", "implicit": True, **PARAMS}, arrays)
    objective = fold.objective(BOOKS, STARS)
    x = np.asarray(packed.served_users)[0].astype(np.float64)
    b = float(np.asarray(member.user_bias)[0])
    n, l2 = BOOKS.size, PARAMS["l2"]
    constant = l2 * float((np.asarray(member.book_factors)[BOOKS].astype(np.float64) ** 2).sum())
    constant += 0.2 * float(
        (np.asarray(member.implicit_factors)[BOOKS].astype(np.float64) ** 2).sum()
    )
    # the member's own loss, restated by the numpy fold-in on the served (packed) arrays
    np.testing.assert_allclose(
        n * _loss(member), objective.value(x, b) - l2 * b * b + constant, rtol=1e-5
    )


def test_an_ensemble_serves_the_members_mean_through_both_graphs() -> None:
    members = [_member(s, implicit=False) for s in (1, 2, 3)]
    packed = readers_pack.pack(members)
    assert packed.dim == 3 * 2 * DIM
    users = tf.constant([0, 1, 2], tf.int64)
    outs = [[np.asarray(t) for t in m.score_all(users)] for m in members]
    scores, stars = (np.asarray(t) for t in packed.score_all(users))
    np.testing.assert_allclose(scores, np.mean([o[0] for o in outs], 0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(stars, np.mean([o[1] for o in outs], 0), rtol=1e-5, atol=1e-5)
    vector = np.asarray(packed.served_users)
    bias = np.asarray(packed.user_bias)
    by_vector = [np.asarray(t) for t in packed.score_vector(vector, bias)]
    np.testing.assert_allclose(by_vector[0], scores, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(by_vector[1], stars, rtol=1e-5, atol=1e-5)


def test_unpacking_gives_the_members_weights_back() -> None:
    members = [_member(s) for s in (1, 2)]
    back = readers_pack.unpack(
        readers_pack.weights_of(readers_pack.pack(members)), 2, DIM, rank_vector=True
    )
    for m, w in zip(members, back, strict=True):
        for name in ("user_factors", "book_factors", "implicit_factors", "kernel", "rank_users"):
            np.testing.assert_allclose(w.__dict__[name], np.asarray(getattr(m, name)), rtol=1e-5)


def test_a_warm_start_needs_the_member_shape_the_data_size_calls_for() -> None:
    from training import archs

    spec = archs.get("default")
    names = ("user_ids", "book_ids", "user_factors", "user_bias", "book_factors")
    arrays = {name: np.zeros((1, 1)) for name in (*names, "book_bias", "rank_projection")}
    arrays["rank_bias"] = np.zeros(1)
    small = {"member_dim": 128, "member_rank_vector": True, "implicit": False}
    large = {"member_dim": 64, "member_rank_vector": False, "implicit": False}
    assert spec.can_warm_start(small, arrays, 75_000)
    assert not spec.can_warm_start(small, arrays, 2_000_000)  # crossed small_below since
    assert spec.can_warm_start(large, arrays, 2_000_000)
    assert not spec.can_warm_start(large, arrays, 75_000)
    assert not spec.can_warm_start({"dim": 64, "implicit": False}, arrays, 75_000)  # older
    assert not spec.can_warm_start(small, {"user_ids": arrays["user_ids"]}, 75_000)


def _same_outputs(model: ImplicitJointModel) -> None:
    """`compact_scoring`'s graphs give the model's own outputs, for trained readers and for
    given vectors."""
    compact = model.compact_scoring()
    assert compact is not None
    score_all, score_vector = compact
    users = tf.constant([0, 1, 2, N_USERS - 1], tf.int64)
    for got, want in zip(score_all(users), model.score_all(users), strict=True):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)
    rng = np.random.default_rng(0)
    vector = rng.normal(0, 0.5, (4, model.dim)).astype(np.float32)
    bias = rng.normal(0, 0.3, 4).astype(np.float32)
    for got, want in zip(
        score_vector(tf.constant(vector), tf.constant(bias)),
        model.score_vector(vector, bias),
        strict=True,
    ):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)


def test_the_exported_scoring_gives_the_models_own_outputs_with_one_product() -> None:
    """`compact_scoring` (what export_graphs traces) gives the packed model's own outputs
    with half the book columns (the [v, 0] blocks' zeros), and a plain model's own outputs
    with all of them; both outputs come from one product with the books."""
    members = [_member(s, implicit=False) for s in (1, 2, 3)]
    packed = readers_pack.pack(members)
    _same_outputs(packed)
    books = np.asarray(packed.book_factors)
    assert int(np.any(books != 0, axis=0).sum()) == packed.dim // 2  # what the graphs keep
    plain = ImplicitJointModel(N_USERS, N_BOOKS, dim=DIM, **PARAMS)
    plain.served_users.assign(np.random.default_rng(1).normal(0, 0.3, (N_USERS, DIM)))
    _same_outputs(plain)
    assert (
        ImplicitJointModel(
            N_USERS, N_BOOKS, dim=DIM, **{**PARAMS, "rank_vector": True}
        ).compact_scoring()
        is None
    )  # a member with ranking vectors is served packed
