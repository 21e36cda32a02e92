"""Architectures, their hyperparameters, and the training loop (early stopping for default)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from .data import Encoded
from .models import JointFactorModel, Seed000, Seed003


@dataclass(frozen=True)
class ArchSpec:
    name: str
    epochs: int
    batch_size: int
    learning_rate: float
    early_stopping: bool
    model_params: dict[str, Any] = field(default_factory=dict)
    patience: int = 3


ARCHS: dict[str, ArchSpec] = {
    # Django book manager as published: 5-dim concat -> 128 -> 32 -> 1, adam, MSE, 10 epochs.
    "seed000": ArchSpec(
        "seed000",
        epochs=10,
        batch_size=32,
        learning_rate=1e-3,
        early_stopping=False,
        model_params={"dim": 5},
    ),
    # RecommenderNet as published: 32-dim, biases, dot, sigmoid, BCE, Adam 1e-3, batch 64, 5 epochs.
    "seed003": ArchSpec(
        "seed003",
        epochs=5,
        batch_size=64,
        learning_rate=1e-3,
        early_stopping=False,
        model_params={"dim": 32},
    ),
    # bookrec: joint rating + full-softmax choice heads on shared factors (tuned on a
    # validation slice of the ML-100K training part; see training/models.py).
    "default": ArchSpec(
        "default",
        epochs=40,
        batch_size=256,
        learning_rate=3e-3,
        early_stopping=True,
        model_params={"dim": 64, "l2": 0.1, "rank_weight": 1.0, "rank_l2": 0.1, "softmax": "auto"},
    ),
}


def spec_for(arch: str) -> ArchSpec:
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; choose one of {sorted(ARCHS)}")
    return ARCHS[arch]


FULL_SOFTMAX_MAX_BOOKS = 4096  # above this, the ranking head trains with in-batch negatives


def build(
    spec: ArchSpec,
    n_users: int,
    n_books: int,
    global_mean: float,
    scale: tuple[float, float],
    book_counts: np.ndarray | None = None,
) -> keras.Model:
    params = dict(spec.model_params)
    optimizer = keras.optimizers.Adam(spec.learning_rate)
    if spec.name == "seed000":
        model = Seed000(n_users, n_books, **params)
        model.compile(optimizer=optimizer, loss="mse")
    elif spec.name == "seed003":
        model = Seed003(n_users, n_books, star_low=scale[0], star_high=scale[1], **params)
        model.compile(optimizer=optimizer, loss="binary_crossentropy")
    else:
        if params.get("softmax", "auto") == "auto":
            params["softmax"] = "full" if n_books <= FULL_SOFTMAX_MAX_BOOKS else "in_batch"
        model = JointFactorModel(n_users, n_books, global_mean=global_mean, **params)
        if book_counts is not None:
            share = np.maximum(book_counts, 1) / max(float(book_counts.sum()), 1.0)
            model.log_q.assign(np.log(share).astype("float32"))
        model.compile(optimizer=optimizer)  # the loss is JointFactorModel.compute_loss
    return model


def targets(spec: ArchSpec, stars: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    if spec.name == "seed003":
        low, high = scale
        return ((stars - low) / max(high - low, 1e-6)).astype(np.float32)
    return stars.astype(np.float32)


class ValidationRanking(keras.callbacks.Callback):
    """Validation RMSE and nDCG@10 (excluding the reader's training books) after each epoch.

    Logs ``val_rmse``, ``val_ndcg`` and ``val_objective = val_ndcg - val_rmse`` (both goals,
    in their natural units) for early stopping. Computed with Keras during training only; the
    reported metrics come from the exported ONNX graph.
    """

    def __init__(
        self,
        train: tuple[np.ndarray, np.ndarray],
        val: tuple[np.ndarray, np.ndarray, np.ndarray],
        n_books: int,
        scale: tuple[float, float],
        max_users: int = 2000,
        seed: int = 0,
    ):
        super().__init__()
        self.n_books, self.scale = n_books, scale
        self.val_u, self.val_b, self.val_r = val
        users = np.unique(self.val_u)
        if users.size > max_users:
            users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
        self.users = users
        self.train_u, self.train_b = train

    def _pairs_for(
        self, users: np.ndarray, u: np.ndarray, b: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        pos = np.searchsorted(users, u)
        pos = np.minimum(pos, users.size - 1)
        ok = users[pos] == u
        return pos[ok], b[ok]

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs if logs is not None else {}
        ndcgs, sq = [], []
        discounts = 1.0 / np.log2(np.arange(2, 12))
        for start in range(0, self.users.size, 512):
            chunk = self.users[start : start + 512]
            scores, stars = self.model.score_all(tf.constant(chunk, dtype=tf.int64))
            scores, stars = np.array(scores), np.array(stars)
            ru, rb = self._pairs_for(chunk, self.train_u, self.train_b)
            scores[ru, rb] = -np.inf
            vu, vb = self._pairs_for(chunk, self.val_u, self.val_b)
            relevant = np.zeros_like(scores, dtype=bool)
            relevant[vu, vb] = True
            top = np.argpartition(-scores, 9, axis=1)[:, :10]
            top = np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, 1), 1), 1)
            hits = np.take_along_axis(relevant, top, 1)
            n_rel = relevant.sum(1)
            idcg = np.cumsum(discounts)[np.minimum(n_rel, 10) - 1]
            ndcgs.append(((hits * discounts).sum(1) / idcg)[n_rel > 0])
            vr = self.val_r[np.isin(self.val_u, chunk)]
            pred = np.clip(stars[vu, vb], *self.scale)
            sq.append((pred - vr) ** 2)
        logs["val_rmse"] = float(np.sqrt(np.concatenate(sq).mean()))
        logs["val_ndcg"] = float(np.concatenate(ndcgs).mean())
        logs["val_objective"] = logs["val_ndcg"] - logs["val_rmse"]


@dataclass
class FitResult:
    model: keras.Model
    epochs: int  # epochs actually kept (best epoch for early stopping)
    history: dict[str, list[float]]
    seconds: float


def fit(
    spec: ArchSpec,
    data: Encoded,
    scale: tuple[float, float],
    seed: int,
    epochs: int | None = None,
    validation: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    verbose: int | str = "auto",
) -> FitResult:
    """Train ``spec`` on ``data``; with ``validation`` and early stopping, keep the best epoch."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    counts = np.bincount(data.books, minlength=data.n_books)
    model = build(spec, data.n_users, data.n_books, float(np.mean(data.stars)), scale, counts)
    max_epochs = epochs if epochs is not None else spec.epochs
    callbacks: list[keras.callbacks.Callback] = []
    if spec.early_stopping and validation is not None:
        callbacks.append(
            ValidationRanking((data.users, data.books), validation, data.n_books, scale, seed=seed)
        )
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_objective",
                mode="max",
                patience=spec.patience,
                restore_best_weights=True,
            )
        )
    started = time.perf_counter()
    history = model.fit(
        (data.users, data.books),
        targets(spec, data.stars, scale),
        batch_size=spec.batch_size,
        epochs=max_epochs,
        shuffle=True,
        verbose=verbose,
        callbacks=callbacks,
    ).history
    seconds = time.perf_counter() - started
    kept = len(history["loss"])
    if "val_objective" in history:
        kept = int(np.argmax(history["val_objective"])) + 1
    return FitResult(model, kept, {k: [float(x) for x in v] for k, v in history.items()}, seconds)
