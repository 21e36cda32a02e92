"""The `readers` architecture's training loop: batches of whole readers, one plain gradient
step on each reader's own objective per batch, Adam on the book side.

Why not Keras' `fit`: the exact full softmax is computed once per reader (every rating of a
reader is in one batch), and reader rows, which get one real gradient per epoch, take a plain
step (`user_lr`) instead of Adam's per-step cap: with Adam they were under- or over-fit
depending on a learning-rate multiplier (docs/research/model-at-scale.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import keras
import numpy as np
import tensorflow as tf

from training.archs.readers_model import ImplicitJointModel

Batch = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class ReaderBatches:
    """Ratings grouped by reader; each epoch a fresh reader order cut into batches of
    `readers` readers with *all* their ratings (contiguous, sorted segment ids)."""

    def __init__(self, users: np.ndarray, books: np.ndarray, stars: np.ndarray, n_users: int):
        order = np.argsort(users, kind="stable")
        self.books = books[order].astype(np.int32)
        self.stars = stars[order].astype(np.float32)
        self.counts = np.bincount(users, minlength=n_users).astype(np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)])
        self.present = np.flatnonzero(self.counts > 0).astype(np.int32)

    def epoch(self, rng: np.random.Generator, readers: int) -> Iterator[Batch]:
        """(reader indices, segment ids, books, stars, ratings per reader) per batch."""
        perm = rng.permutation(self.present)
        counts = self.counts[perm]
        ends = np.cumsum(counts)
        starts = ends - counts
        # rating positions of the permuted readers, back to back
        index = np.repeat(self.offsets[perm] - starts, counts) + np.arange(ends[-1])
        books, stars = self.books[index], self.stars[index]
        seg = np.repeat(np.arange(perm.size, dtype=np.int32), counts)
        for lo in range(0, perm.size, readers):
            hi = min(lo + readers, perm.size)
            a, b = int(starts[lo]), int(ends[hi - 1])
            yield (perm[lo:hi], seg[a:b] - lo, books[a:b], stars[a:b], counts[lo:hi])


def train(
    model: ImplicitJointModel,
    users: np.ndarray,
    books: np.ndarray,
    stars: np.ndarray,
    *,
    epochs: int,
    readers_per_batch: int,
    learning_rate: float,
    user_lr: float,
    seed: int,
    on_epoch: Callable[[int, dict[str, float]], bool] | None = None,
    verbose: int | str = 0,
) -> dict[str, list[float]]:
    """`epochs` passes over the readers; `on_epoch(epoch, logs) -> True` stops early. Leaves
    the served vectors materialised from this history."""
    reader_vars = [model.user_factors, model.user_bias]
    reader_ids = {id(v) for v in reader_vars}
    book_vars = [v for v in model.trainable_variables if id(v) not in reader_ids]
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(book_vars)
    signature = [
        tf.TensorSpec([None], tf.int32),
        tf.TensorSpec([None], tf.int32),
        tf.TensorSpec([None], tf.int32),
        tf.TensorSpec([None], tf.float32),
        tf.TensorSpec([None], tf.int64),
    ]

    @tf.function(input_signature=signature, reduce_retracing=True)
    def step(u, seg, b, r, n):
        # Reader rows: one plain gradient step on each reader's OWN mean objective (the batch
        # gradient times R / n_u), rate user_lr: scale-free in the data size. Book rows: Adam.
        p = tf.gather(model.user_factors, u)
        bu = tf.gather(model.user_bias, u)
        with tf.GradientTape() as tape:
            tape.watch([p, bu])
            loss = model.batch_loss(u, seg, b, r, n, p=p, bu=bu)
        grads = tape.gradient(loss, [p, bu, *book_vars])
        scale = tf.cast(tf.shape(b)[0], tf.float32) / tf.cast(n, tf.float32)
        g_p, g_b = tf.convert_to_tensor(grads[0]), tf.convert_to_tensor(grads[1])
        index = tf.expand_dims(u, 1)
        model.user_factors.assign(
            tf.tensor_scatter_nd_sub(model.user_factors, index, user_lr * g_p * scale[:, None])
        )
        model.user_bias.assign(
            tf.tensor_scatter_nd_sub(model.user_bias, index, user_lr * g_b * scale)
        )
        optimizer.apply_gradients(zip(grads[2:], book_vars, strict=True))
        return loss

    batches = ReaderBatches(users, books, stars, model.n_users)
    rng = np.random.default_rng(seed)
    history: dict[str, list[float]] = {"loss": [], "epoch_seconds": []}
    for epoch in range(epochs):
        started = time.perf_counter()
        total, weight = 0.0, 0
        for u, seg, b, r, n in batches.epoch(rng, readers_per_batch):
            total += float(step(u, seg, b, r, n)) * b.size
            weight += b.size
        logs = {"loss": total / max(weight, 1), "epoch_seconds": time.perf_counter() - started}
        stop = bool(on_epoch(epoch, logs)) if on_epoch is not None else False
        for key, value in logs.items():
            history.setdefault(key, []).append(float(value))
        if verbose:
            shown = " ".join(f"{k}={v:.4f}" for k, v in logs.items())
            print(f"epoch {epoch + 1}/{epochs} {shown}", flush=True)
        if stop:
            break
    model.materialize(users, books)
    return history


def snapshot(model: ImplicitJointModel) -> list[np.ndarray]:
    return [np.array(v) for v in model.weights]


def restore(model: ImplicitJointModel, weights: list[np.ndarray]) -> None:
    for variable, value in zip(model.weights, weights, strict=True):
        variable.assign(value)


def _rows(old_ids: np.ndarray, new_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(new positions, old positions) of the ids present in both sorted id arrays."""
    pos = np.minimum(np.searchsorted(old_ids, new_ids), max(old_ids.size - 1, 0))
    hit = (old_ids.size > 0) & (old_ids[pos] == new_ids)
    return np.flatnonzero(hit), pos[hit]


def warm_start(
    model: ImplicitJointModel,
    old: ImplicitJointModel,
    new_ids: tuple[np.ndarray, np.ndarray],
    old_ids: tuple[np.ndarray, np.ndarray],
) -> dict[str, int]:
    """Initialise `model` (built for `new_ids` = (user ids, book ids)) from `old`'s weights.

    Known readers and books keep their rows. New readers: p = 0, b_u = 0 (an implicit part
    places them from their history). New books: v, y as initialised, b_i = 0 and a ranking
    bias at the 10th percentile of the old ones (a new book is rarely chosen)."""
    nu, ou = _rows(old_ids[0], new_ids[0])
    nb, ob = _rows(old_ids[1], new_ids[1])

    def put(variable, source, new_rows, old_rows, fill):
        current = np.array(variable)
        if fill is not None:
            current[...] = fill
        current[new_rows] = np.asarray(source)[old_rows]
        variable.assign(current)

    put(model.user_factors, old.user_factors, nu, ou, 0.0)
    put(model.user_bias, old.user_bias, nu, ou, 0.0)
    put(model.book_factors, old.book_factors, nb, ob, None)
    if model.implicit:
        put(model.implicit_factors, old.implicit_factors, nb, ob, None)
    put(model.book_bias, old.book_bias, nb, ob, 0.0)
    low = float(np.percentile(np.asarray(old.rank_bias), 10))
    put(model.rank_bias, old.rank_bias, nb, ob, low)
    model.kernel.assign(np.asarray(old.kernel))
    return {"users_kept": int(nu.size), "books_kept": int(nb.size)}
