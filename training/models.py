"""Keras models: the two published seeds and bookrec's own joint rating + ranking model.

Every model maps ``(user_index, book_index)`` to predicted stars, and exposes
``score_all(user_index)`` -> (ranking scores, predicted stars) over the whole catalogue, which
is the function exported to ONNX.
"""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="bookrec")
class Seed000(keras.Model):
    """Django book-manager design: concatenated 5-dim embeddings -> Dense 128 -> 32 -> 1, MSE."""

    def __init__(self, n_users: int, n_books: int, dim: int = 5, **kwargs):
        super().__init__(**kwargs)
        self.n_users, self.n_books, self.dim = n_users, n_books, dim
        self.user_embedding = layers.Embedding(n_users, dim)
        self.book_embedding = layers.Embedding(n_books, dim)
        self.hidden = [layers.Dense(128, activation="relu"), layers.Dense(32, activation="relu")]
        self.out = layers.Dense(1)

    def get_config(self):
        # Saved as a .keras file by the serving benchmark (the design's own serving path).
        return {
            **super().get_config(),
            "n_users": self.n_users,
            "n_books": self.n_books,
            "dim": self.dim,
        }

    def _stars(self, u, v):
        h = ops.concatenate([u, v], axis=-1)
        for layer in self.hidden:
            h = layer(h)
        return ops.squeeze(self.out(h), -1)

    def call(self, inputs):
        return self._stars(self.user_embedding(inputs[0]), self.book_embedding(inputs[1]))

    def score_all(self, user_index):
        u = self.user_embedding(user_index)  # [N, d]
        v = self.book_embedding.embeddings  # [B, d]
        n, b = ops.shape(u)[0], ops.shape(v)[0]
        uu = ops.reshape(ops.repeat(u[:, None, :], b, axis=1), (-1, ops.shape(u)[1]))
        vv = ops.reshape(ops.repeat(v[None, :, :], n, axis=0), (-1, ops.shape(v)[1]))
        stars = ops.reshape(self._stars(uu, vv), (n, b))
        return stars, stars

    def book_vectors(self):
        return ops.convert_to_numpy(self.book_embedding.embeddings)


@keras.saving.register_keras_serializable(package="bookrec")
class Seed003(keras.Model):
    """RecommenderNet: 32-dim embeddings + biases, dot, sigmoid; trained with BCE on [0, 1]."""

    def __init__(
        self,
        n_users: int,
        n_books: int,
        dim: int = 32,
        star_low: float = 0.5,
        star_high: float = 5.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.n_users, self.n_books = n_users, n_books
        self.star_low, self.star_high = star_low, star_high
        reg = keras.regularizers.l2(1e-6)
        self.user_embedding = layers.Embedding(
            n_users, dim, embeddings_initializer="he_normal", embeddings_regularizer=reg
        )
        self.user_bias = layers.Embedding(n_users, 1)
        self.book_embedding = layers.Embedding(
            n_books, dim, embeddings_initializer="he_normal", embeddings_regularizer=reg
        )
        self.book_bias = layers.Embedding(n_books, 1)

    def call(self, inputs):
        u, b = inputs[0], inputs[1]
        dot = ops.sum(self.user_embedding(u) * self.book_embedding(b), axis=-1)
        logit = dot + ops.squeeze(self.user_bias(u), -1) + ops.squeeze(self.book_bias(b), -1)
        return ops.sigmoid(logit)  # stars scaled to [0, 1]; the pipeline rescales

    def score_all(self, user_index):
        u = self.user_embedding(user_index)
        logit = (
            ops.matmul(u, ops.transpose(self.book_embedding.embeddings))
            + self.user_bias(user_index)
            + ops.transpose(self.book_bias.embeddings)
        )
        p = ops.sigmoid(logit)
        return logit, self.star_low + p * (self.star_high - self.star_low)

    def book_vectors(self):
        return ops.convert_to_numpy(self.book_embedding.embeddings)


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

    def book_biases(self):
        return ops.convert_to_numpy(self.book_bias.embeddings)[:, 0]
