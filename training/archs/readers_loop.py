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
from training.archs.readers_pack import MemberWeights

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


class Trainer:
    """One model's optimiser state and compiled step: `epoch()` runs one pass over the
    readers. Reader rows (p, b_u and, with a ranking reader vector, r) take one plain
    gradient step on each reader's OWN mean objective per batch (the batch gradient times
    R / n_u), rate `user_lr`: scale-free in the data size. Book rows: Adam."""

    def __init__(
        self,
        model: ImplicitJointModel,
        users: np.ndarray,
        books: np.ndarray,
        stars: np.ndarray,
        *,
        readers_per_batch: int,
        learning_rate: float,
        user_lr: float,
        seed: int,
    ) -> None:
        self.model, self.readers = model, readers_per_batch
        self.users, self.books = users, books
        reader_vars = model.reader_variables()
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
            rows = [tf.gather(v, u) for v in reader_vars]
            with tf.GradientTape() as tape:
                tape.watch(rows)
                loss = model.batch_loss(u, seg, b, r, n, *rows)
            grads = tape.gradient(loss, [*rows, *book_vars])
            scale = tf.cast(tf.shape(b)[0], tf.float32) / tf.cast(n, tf.float32)
            index = tf.expand_dims(u, 1)
            for variable, grad in zip(reader_vars, grads[: len(rows)], strict=True):
                g = tf.convert_to_tensor(grad)
                per_reader = scale[:, None] if len(g.shape) == 2 else scale
                variable.assign(tf.tensor_scatter_nd_sub(variable, index, user_lr * g * per_reader))
            optimizer.apply_gradients(zip(grads[len(rows) :], book_vars, strict=True))
            return loss

        self.step = step
        self.batches = ReaderBatches(users, books, stars, model.n_users)
        self.rng = np.random.default_rng(seed)

    def epoch(self) -> dict[str, float]:
        started = time.perf_counter()
        total, weight = 0.0, 0
        for u, seg, b, r, n in self.batches.epoch(self.rng, self.readers):
            total += float(self.step(u, seg, b, r, n)) * b.size
            weight += b.size
        return {"loss": total / max(weight, 1), "epoch_seconds": time.perf_counter() - started}


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
    trainer = Trainer(
        model,
        users,
        books,
        stars,
        readers_per_batch=readers_per_batch,
        learning_rate=learning_rate,
        user_lr=user_lr,
        seed=seed,
    )
    return run_epochs([trainer], epochs, on_epoch, verbose)


def run_epochs(
    trainers: list[Trainer],
    epochs: int,
    on_epoch: Callable[[int, dict[str, float]], bool] | None = None,
    verbose: int | str = 0,
) -> dict[str, list[float]]:
    """`epochs` epochs of every trainer in lockstep (an ensemble's members: epoch e of all
    of them, then `on_epoch`); the loss logged is the members' mean."""
    history: dict[str, list[float]] = {"loss": [], "epoch_seconds": []}
    for epoch in range(epochs):
        runs = [trainer.epoch() for trainer in trainers]
        logs = {
            "loss": float(np.mean([r["loss"] for r in runs])),
            "epoch_seconds": float(sum(r["epoch_seconds"] for r in runs)),
        }
        stop = bool(on_epoch(epoch, logs)) if on_epoch is not None else False
        for key, value in logs.items():
            history.setdefault(key, []).append(float(value))
        if verbose:
            shown = " ".join(f"{k}={v:.4f}" for k, v in logs.items())
            print(f"epoch {epoch + 1}/{epochs} {shown}", flush=True)
        if stop:
            break
    for trainer in trainers:
        trainer.model.materialize(trainer.users, trainer.books)
    for trainer in trainers:
        trainer.model.materialize(trainer.users, trainer.books)
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
    old: ImplicitJointModel | MemberWeights,
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
    if model.rank_vector:
        put(model.rank_users, old.rank_users, nu, ou, 0.0)
    return {"users_kept": int(nu.size), "books_kept": int(nb.size)}
