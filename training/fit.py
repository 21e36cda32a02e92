"""The training loop: any registered architecture, with early stopping where it asks for it."""

from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf

from inference.metrics import ndcg_rows, rmse, top_k_rows
from training.archs.base import Architecture, FitResult
from training.data import Encoded

__all__ = ["VALIDATION_USERS", "FitResult", "ValidationRanking", "fit"]

VALIDATION_USERS = 2000  # readers scored per epoch for early stopping (a seeded sample)


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
        scale: tuple[float, float],
        max_users: int = VALIDATION_USERS,
        seed: int = 0,
    ):
        super().__init__()
        self.scale = scale
        self.val_u, self.val_b, self.val_r = val
        users = np.unique(self.val_u)
        if users.size > max_users:
            users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
        self.users = users
        self.train_u, self.train_b = train

    def _pairs_for(
        self, users: np.ndarray, u: np.ndarray, b: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        pos = np.minimum(np.searchsorted(users, u), users.size - 1)
        ok = users[pos] == u
        return pos[ok], b[ok]

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs if logs is not None else {}
        ndcgs, truth, predicted = [], [], []
        for start in range(0, self.users.size, 512):
            chunk = self.users[start : start + 512]
            scores, stars = self.model.score_all(tf.constant(chunk, dtype=tf.int64))
            scores, stars = np.array(scores), np.array(stars)
            ru, rb = self._pairs_for(chunk, self.train_u, self.train_b)
            scores[ru, rb] = -np.inf
            vu, vb = self._pairs_for(chunk, self.val_u, self.val_b)
            relevant = np.zeros_like(scores, dtype=bool)
            relevant[vu, vb] = True
            top = top_k_rows(scores, 10)
            n_relevant = relevant.sum(1)
            per_user = ndcg_rows(np.take_along_axis(relevant, top, 1), n_relevant)
            ndcgs.append(per_user[n_relevant > 0])
            truth.append(self.val_r[np.isin(self.val_u, chunk)])
            predicted.append(np.clip(stars[vu, vb], *self.scale))
        logs["val_rmse"] = rmse(np.concatenate(truth), np.concatenate(predicted))
        logs["val_ndcg"] = float(np.concatenate(ndcgs).mean())
        logs["val_objective"] = logs["val_ndcg"] - logs["val_rmse"]


def fit(
    arch: Architecture,
    data: Encoded,
    scale: tuple[float, float],
    seed: int,
    epochs: int | None = None,
    validation: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    verbose: int | str = "auto",
) -> FitResult:
    """Train `arch` on `data`; with `validation` and early stopping, keep the best epoch.
    An architecture with a training loop of its own (`Architecture.fit`) runs that."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    own = arch.fit(
        data, scale, seed, epochs if epochs is not None else arch.epochs, validation, verbose
    )
    if own is not None:
        return own
    counts = np.bincount(data.books, minlength=data.n_books)
    model = arch.build(data.n_users, data.n_books, float(np.mean(data.stars)), scale, counts)
    callbacks: list[keras.callbacks.Callback] = []
    if arch.early_stopping and validation is not None:
        callbacks.append(ValidationRanking((data.users, data.books), validation, scale, seed=seed))
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_objective",
                mode="max",
                patience=arch.patience,
                restore_best_weights=True,
            )
        )
    started = time.perf_counter()
    history = model.fit(
        (data.users, data.books),
        arch.targets(data.stars, scale),
        batch_size=arch.batch_size,
        epochs=epochs if epochs is not None else arch.epochs,
        shuffle=True,
        verbose=verbose,
        callbacks=callbacks,
    ).history
    seconds = time.perf_counter() - started
    kept = len(history["loss"])
    if "val_objective" in history:
        kept = int(np.argmax(history["val_objective"])) + 1
    return FitResult(model, kept, {k: [float(x) for x in v] for k, v in history.items()}, seconds)
