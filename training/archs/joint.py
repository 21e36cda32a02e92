"""`default`: bookrec's own model, shared reader and book factors with two heads.

A rating head (global mean + reader bias + book bias + dot product, squared error, L2) and a
ranking head (a softmax over every book predicting *which* books each reader chose to rate,
with a per-book bias that learns popularity and L2 on the projected reader vector), trained
together; early stopping on validation nDCG@10 - RMSE. Fold-in: `joint` (inference.foldin).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from keras import layers, ops

from training.archs.base import Architecture, embedding_matrix

FULL_SOFTMAX_MAX_BOOKS = 4096  # above this, the ranking head trains with in-batch negatives
FOLD_IN_STEPS = 50
FOLD_IN_LEARNING_RATE = 0.1


@keras.saving.register_keras_serializable(package="bookrec")
class JointFactorModel(keras.Model):
    """Shared user/book factors with two heads trained jointly.

    - rating head: mean + user bias + book bias + <user, book>, squared error;
    - ranking head: softmax over the whole catalogue of <user A, book> + popularity bias,
      trained to predict *which* book the reader chose to rate (implicit feedback).
    Both heads read the same factors, so the factors carry taste (ratings) and choice (ranking).
    The loss lives in ``compute_loss``.

    ``softmax="full"`` normalises over the whole catalogue (exact; cost ~ batch x books x dim).
    ``softmax="in_batch"`` uses the other books of the batch as negatives with the logQ
    correction (subtract the log of each book's sampling frequency), so the ranking bias still
    estimates the full-softmax one; for large catalogues. Serving always scores all books.
    """

    def __init__(
        self,
        n_users: int,
        n_books: int,
        dim: int = 64,
        l2: float = 0.05,
        rank_weight: float = 0.1,
        rank_l2: float = 0.0,
        global_mean: float = 3.5,
        softmax: str = "full",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.n_users, self.n_books, self.dim = n_users, n_books, dim
        self.l2, self.rank_weight, self.global_mean = l2, rank_weight, global_mean
        self.rank_l2 = rank_l2
        if softmax not in ("full", "in_batch"):
            raise ValueError(f"softmax must be 'full' or 'in_batch', not {softmax!r}")
        self.softmax = softmax
        init = keras.initializers.RandomNormal(stddev=0.05)
        self.user_embedding = layers.Embedding(n_users, dim, embeddings_initializer=init)
        self.book_embedding = layers.Embedding(n_books, dim, embeddings_initializer=init)
        self.user_bias = layers.Embedding(n_users, 1, embeddings_initializer="zeros")
        self.book_bias = layers.Embedding(n_books, 1, embeddings_initializer="zeros")
        self.rank_projection = layers.Dense(dim, use_bias=False)
        self.rank_bias = self.add_weight(shape=(n_books,), initializer="zeros", name="rank_bias")
        # log of each book's share of the training ratings (in-batch sampling probability)
        self.log_q = self.add_weight(
            shape=(n_books,), initializer="zeros", trainable=False, name="log_q"
        )

    def call(self, inputs):
        u_idx, b_idx = inputs[0], inputs[1]
        u = self.user_embedding(u_idx)
        v = self.book_embedding(b_idx)
        stars = (
            self.global_mean
            + ops.squeeze(self.user_bias(u_idx), -1)
            + ops.squeeze(self.book_bias(b_idx), -1)
            + ops.sum(u * v, axis=-1)
        )
        q = self.rank_projection(u)
        if self.softmax == "full":
            logits = ops.matmul(q, ops.transpose(self.book_embedding.embeddings)) + self.rank_bias
        else:
            correction = ops.take(self.rank_bias, b_idx) - ops.take(self.log_q, b_idx)
            logits = ops.matmul(q, ops.transpose(v)) + correction[None, :]
            # the same book elsewhere in the batch is not a negative
            same = ops.equal(b_idx[:, None], b_idx[None, :])
            diagonal = ops.eye(ops.shape(b_idx)[0], dtype="bool")
            logits = ops.where(ops.logical_and(same, ops.logical_not(diagonal)), -1e9, logits)
        return {"stars": stars, "logits": logits, "u": u, "v": v, "q": q}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        stars_true = ops.cast(y, "float32")
        squared = ops.mean(ops.square(stars_true - y_pred["stars"]))
        # full: the book the reader rated, among all books; in-batch: row i's positive is column i
        chosen = x[1] if self.softmax == "full" else ops.arange(ops.shape(x[1])[0])
        choice = ops.mean(
            keras.losses.sparse_categorical_crossentropy(chosen, y_pred["logits"], from_logits=True)
        )
        reg = ops.mean(ops.sum(ops.square(y_pred["u"]), -1) + ops.sum(ops.square(y_pred["v"]), -1))
        rank_reg = ops.mean(ops.sum(ops.square(y_pred["q"]), -1))
        return squared + self.rank_weight * choice + self.l2 * reg + self.rank_l2 * rank_reg

    def score_all(self, user_index):
        u = self.user_embedding(user_index)
        books = self.book_embedding.embeddings
        logits = ops.matmul(self.rank_projection(u), ops.transpose(books)) + self.rank_bias
        stars = (
            self.global_mean
            + self.user_bias(user_index)
            + ops.transpose(self.book_bias.embeddings)
            + ops.matmul(u, ops.transpose(books))
        )
        return logits, stars

    def book_vectors(self):
        return ops.convert_to_numpy(self.book_embedding.embeddings)

    def score_vector(self, user_vector, user_bias):
        """Scores and stars for readers given as factors (fold-in of unseen readers)."""
        books = self.book_embedding.embeddings
        logits = (
            ops.matmul(self.rank_projection(user_vector), ops.transpose(books)) + self.rank_bias
        )
        stars = (
            self.global_mean
            + user_bias[:, None]
            + ops.transpose(self.book_bias.embeddings)
            + ops.matmul(user_vector, ops.transpose(books))
        )
        return logits, stars


@dataclass(frozen=True)
class JointArchitecture(Architecture):
    def build(self, n_users, n_books, global_mean, scale, book_counts) -> keras.Model:
        params = dict(self.model_params)
        if params.get("softmax", "auto") == "auto":
            params["softmax"] = "full" if n_books <= FULL_SOFTMAX_MAX_BOOKS else "in_batch"
        model = JointFactorModel(n_users, n_books, global_mean=global_mean, **params)
        share = np.maximum(book_counts, 1) / max(float(book_counts.sum()), 1.0)
        model.log_q.assign(np.log(share).astype("float32"))
        model.compile(optimizer=keras.optimizers.Adam(self.learning_rate))  # compute_loss
        return model

    def resolved_params(self, model: keras.Model) -> dict[str, Any]:
        return {"softmax": model.softmax}

    def arrays(self, model: keras.Model) -> dict[str, np.ndarray]:
        return {
            **super().arrays(model),
            # the trained readers' own vectors: a refreshed list starts its fold-in from them
            "user_factors": embedding_matrix(model.user_embedding),
            "user_bias": embedding_matrix(model.user_bias)[:, 0],
            "book_bias": embedding_matrix(model.book_bias)[:, 0],
            "rank_projection": np.asarray(model.rank_projection.kernel, dtype=np.float32),
            "rank_bias": np.asarray(model.rank_bias, dtype=np.float32),
        }

    def fold_in(self, model: keras.Model) -> dict[str, Any]:
        return {
            "kind": "joint",  # ridge start, then steps on the model's own objective
            "l2": float(model.l2),
            "rank_weight": float(model.rank_weight),
            "rank_l2": float(model.rank_l2),
            "global_mean": float(model.global_mean),
            "steps": FOLD_IN_STEPS,
            "learning_rate": FOLD_IN_LEARNING_RATE,
        }


# Tuned on a validation slice of the ML-100K training part.
ARCH = JointArchitecture(
    "joint",
    epochs=40,
    batch_size=256,
    learning_rate=3e-3,
    early_stopping=True,
    model_params={"dim": 64, "l2": 0.1, "rank_weight": 1.0, "rank_l2": 0.1, "softmax": "auto"},
    folds_in=True,
)
