"""`ImplicitJointModel`: JointFactorModel's two heads, trained on batches of whole readers.

Model (u = reader, i = book, N(u) = the books u rated in the training data):
    x_u   = p_u + |N(u)|^-1/2 * sum_{j in N(u)} y_j          (implicit part, optional)
    stars = mu + b_u + b_i + x_u . v_i                       (rating head, squared error)
    score = (x_u K + r_u) . v_i + c_i                        (ranking head, full softmax;
                                                              r_u: optional `rank_vector`)

Loss of a batch of *readers* (every rating of each reader in it), divided by the batch's
number of ratings so that it is the per-rating mean JointFactorModel minimises:
    sum_r (r - stars)^2
  + w * sum_u [ n_u * logsumexp_i(score_ui) - sum_{i in R(u)} score_ui ]   (exact full softmax)
  + l2 * (sum_u n_u (|p_u|^2 + |r_u|^2) + sum_r |v_i|^2) + l2_y * sum_r |y_i|^2
  + rank_l2 * sum_u n_u |x_u K + r_u|^2
The softmax over the catalogue is computed once per reader, not once per rating: an epoch
costs ~ readers x books x d instead of ratings x books x d.

Serving: `score_user.onnx` reads the materialised reader vectors x_u (a non-trainable table
set from the training history by `materialize`), so its graph and interface are
JointFactorModel's; `score_vector.onnx` takes x directly. A model with `rank_vector` (and an
ensemble of models) is served as one plain model of a wider dim (`readers_pack.pack`), whose
loss is the same; the numpy restatement of the loss, for one reader, is
`inference.foldin.ReadersObjective`.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="bookrec")
class ImplicitJointModel(keras.Model):
    def __init__(
        self,
        n_users: int,
        n_books: int,
        dim: int = 64,
        l2: float = 0.1,
        l2_y: float | None = None,
        rank_weight: float = 1.0,
        rank_l2: float = 0.1,
        global_mean: float = 3.5,
        implicit: bool = True,
        history_dropout: float = 0.0,
        dropout_rank_only: bool = False,
        init_std: float = 0.05,
        rank_vector: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.n_users, self.n_books, self.dim = n_users, n_books, dim
        self.l2, self.rank_weight, self.rank_l2 = l2, rank_weight, rank_l2
        self.l2_y = l2 if l2_y is None else l2_y
        self.global_mean, self.implicit = global_mean, implicit
        # training only: each rating's y_j left out of x_u with this probability (denoising,
        # so the softmax cannot just echo the history back); serving uses the whole history
        self.history_dropout = history_dropout
        self.dropout_rank_only = dropout_rank_only  # the rating head sees the whole history
        self.softmax = "full"  # exact, per reader (recorded in the manifest)
        # a reader vector of the ranking head's own: q = x K + r (L2 like p's)
        self.rank_vector = rank_vector
        init = keras.initializers.RandomNormal(stddev=init_std)
        self.user_factors = self.add_weight(shape=(n_users, dim), initializer=init, name="p")
        self.book_factors = self.add_weight(shape=(n_books, dim), initializer=init, name="v")
        self.implicit_factors = self.add_weight(
            shape=(n_books, dim),
            initializer=init if implicit else "zeros",
            name="y",
            trainable=implicit,
        )
        self.user_bias = self.add_weight(shape=(n_users,), initializer="zeros", name="b_u")
        self.book_bias = self.add_weight(shape=(n_books,), initializer="zeros", name="b_i")
        self.kernel = self.add_weight(
            shape=(dim, dim), initializer="glorot_uniform", name="rank_projection"
        )
        self.rank_bias = self.add_weight(shape=(n_books,), initializer="zeros", name="rank_bias")
        self.rank_users = self.add_weight(
            shape=(n_users, dim) if rank_vector else (1, dim),
            initializer="zeros",
            trainable=rank_vector,
            name="r",
        )
        # x_u as served (p_u + implicit part of the training history); see materialize()
        self.served_users = self.add_weight(
            shape=(n_users, dim), initializer="zeros", trainable=False, name="x"
        )

    # ------------------------------------------------------------------ training objective
    def batch_loss(self, users, seg, books, stars, counts, p=None, bu=None, r=None):
        """Loss of a batch of readers (see the module docstring); `seg` is sorted.
        `p`/`bu`/`r`: the batch's reader rows, when the caller gathered (and watches) them."""
        if p is None:
            p = tf.gather(self.user_factors, users)  # [S, d]
        if bu is None:
            bu = tf.gather(self.user_bias, users)
        if r is None and self.rank_vector:
            r = tf.gather(self.rank_users, users)
        n = tf.cast(counts, tf.float32)  # [S]
        x = x_rank = p
        if self.implicit:
            y = tf.gather(self.implicit_factors, books)  # [R, d]
            x = x_rank = p + tf.math.segment_sum(y, seg) * tf.math.rsqrt(n)[:, None]
            if self.history_dropout > 0:
                keep = tf.cast(
                    tf.random.uniform(tf.shape(books)) >= self.history_dropout, tf.float32
                )
                kept = tf.math.segment_sum(keep, seg)
                x_rank = (
                    p
                    + tf.math.segment_sum(y * keep[:, None], seg)
                    * tf.math.rsqrt(tf.maximum(kept, 1.0))[:, None]
                )
                if not self.dropout_rank_only:
                    x = x_rank
        v = tf.gather(self.book_factors, books)  # [R, d]
        pred = (
            self.global_mean
            + tf.gather(bu, seg)
            + tf.gather(self.book_bias, books)
            + tf.reduce_sum(tf.gather(x, seg) * v, -1)
        )
        squared = tf.reduce_sum(tf.square(stars - pred))
        q = tf.matmul(x_rank, self.kernel)  # [S, d]
        if self.rank_vector:
            q = q + r
        logits = tf.matmul(q, self.book_factors, transpose_b=True) + self.rank_bias  # [S, B]
        lse = tf.reduce_logsumexp(logits, axis=1)
        chosen = tf.reduce_sum(tf.gather(q, seg) * v, -1) + tf.gather(self.rank_bias, books)
        choice = tf.reduce_sum(n * lse) - tf.reduce_sum(chosen)
        reg = self.l2 * (
            tf.reduce_sum(n * tf.reduce_sum(tf.square(p), -1)) + tf.reduce_sum(tf.square(v))
        )
        if self.implicit:
            reg += self.l2_y * tf.reduce_sum(tf.square(y))
        if self.rank_vector:
            reg += self.l2 * tf.reduce_sum(n * tf.reduce_sum(tf.square(r), -1))
        rank_reg = self.rank_l2 * tf.reduce_sum(n * tf.reduce_sum(tf.square(q), -1))
        total = tf.cast(tf.shape(books)[0], tf.float32)
        return (squared + self.rank_weight * choice + reg + rank_reg) / total

    def reader_variables(self) -> list:
        """The per-reader rows the loop steps plainly (everything else: Adam)."""
        rows = [self.user_factors, self.user_bias]
        return [*rows, self.rank_users] if self.rank_vector else rows

    # ------------------------------------------------------------------ serving
    def materialize(self, users: np.ndarray, books: np.ndarray) -> None:
        """served_users <- p_u + |N(u)|^-1/2 sum y_j over the given (training) history."""
        x = np.asarray(self.user_factors, dtype=np.float32).copy()
        if self.implicit and users.size:
            x += implicit_part(np.asarray(self.implicit_factors), users, books, self.n_users)
        self.served_users.assign(x)

    def call(self, inputs):  # pairs -> stars (Keras' own entry point; training uses batch_loss)
        u_idx, b_idx = inputs[0], inputs[1]
        x = ops.take(self.served_users, u_idx, axis=0)
        v = ops.take(self.book_factors, b_idx, axis=0)
        return (
            self.global_mean
            + ops.take(self.user_bias, u_idx)
            + ops.take(self.book_bias, b_idx)
            + ops.sum(x * v, axis=-1)
        )

    def score_vector(self, user_vector, user_bias):
        books = self.book_factors
        if self.rank_vector:
            raise TypeError("a model with ranking reader vectors is served packed (readers_pack)")
        logits = ops.matmul(ops.matmul(user_vector, self.kernel), ops.transpose(books))
        logits = logits + self.rank_bias
        stars = (
            self.global_mean
            + user_bias[:, None]
            + self.book_bias[None, :]
            + ops.matmul(user_vector, ops.transpose(books))
        )
        return logits, stars

    def score_all(self, user_index):
        x = ops.take(self.served_users, user_index, axis=0)
        if self.rank_vector:  # training-time validation; served packed (readers_pack)
            books = self.book_factors
            r = ops.take(self.rank_users, user_index, axis=0)
            logits = ops.matmul(ops.matmul(x, self.kernel) + r, ops.transpose(books))
            stars = (
                self.global_mean
                + ops.take(self.user_bias, user_index)[:, None]
                + self.book_bias[None, :]
                + ops.matmul(x, ops.transpose(books))
            )
            return logits + self.rank_bias, stars
        return self.score_vector(x, ops.take(self.user_bias, user_index))

    def book_vectors(self):
        return ops.convert_to_numpy(self.book_factors)

    def compact_scoring(self):
        """(score_all, score_vector) for the exported graphs: the same outputs as this
        model's, with less work. Scoring one reader is memory-bound: it reads the whole book
        matrix, so these graphs read it once, not twice, and only where it is not zero.
        - Columns of the book factors that are zero for every book are left out. A packed
          model (readers_pack: a ranking reader vector, seed members) serves books as [v, 0]
          blocks, so half of its columns are zeros; a dropped column multiplies zero in
          every product, so no output changes.
        - Both outputs come from one product: a reader's ranking query (x K) and served
          vector (x), on the kept columns, are two rows multiplied by the kept books once.
          For trained readers both rows are computed here, so `score_user` is a gather and
          that product; `score_vector` computes x K from its input.
        Called at export, on the final weights; the parity check compares the graphs with
        `score_all` / `score_vector` themselves. None for a model with ranking reader
        vectors (it is served packed)."""
        if self.rank_vector:
            return None
        books = ops.convert_to_numpy(self.book_factors)
        keep = np.flatnonzero(np.any(books != 0, axis=0))
        if keep.size == 0:  # nothing to score with: the model's own graphs say so as well
            return None
        # numpy here, tf.constant inside the functions: constants made while tracing become
        # graph constants (initializers in ONNX); eager tensors would be captured inputs.
        v = np.ascontiguousarray(books[:, keep].T)  # [kept, books]
        kernel = ops.convert_to_numpy(self.kernel).astype(np.float64)[:, keep]  # [dim, kept]
        users = ops.convert_to_numpy(self.served_users).astype(np.float64)
        # per trained reader: [query, vector] on the kept columns
        rows = np.stack([users @ kernel, users[:, keep]], axis=1).astype(np.float32)
        kernel = kernel.astype(np.float32)
        rank_bias = ops.convert_to_numpy(self.rank_bias)
        book_bias = ops.convert_to_numpy(self.book_bias)
        user_bias = ops.convert_to_numpy(self.user_bias)
        mean = float(self.global_mean)
        kept, n_books = int(keep.size), int(books.shape[0])

        def both(pairs, bias):  # pairs [N, 2, kept] -> ranking scores, stars
            n = tf.shape(pairs)[0]
            products = tf.matmul(tf.reshape(pairs, [-1, kept]), tf.constant(v))
            products = tf.reshape(products, [n, 2, n_books])
            logits = products[:, 0, :] + tf.constant(rank_bias)
            stars = mean + bias[:, None] + tf.constant(book_bias)[None, :] + products[:, 1, :]
            return logits, stars

        def score_vector(user_vector, bias):
            query = tf.matmul(user_vector, tf.constant(kernel))
            vector = tf.gather(user_vector, tf.constant(keep, dtype=tf.int64), axis=1)
            return both(tf.stack([query, vector], axis=1), bias)

        def score_all(user_index):
            pairs = tf.gather(tf.constant(rows), user_index)
            return both(pairs, tf.gather(tf.constant(user_bias), user_index))

        return score_all, score_vector


def implicit_part(y: np.ndarray, users: np.ndarray, books: np.ndarray, n_users: int) -> np.ndarray:
    """|N(u)|^-1/2 * sum_{j in N(u)} y_j for every reader (zeros for readers with no history)."""
    sums = tf.math.unsorted_segment_sum(
        tf.gather(tf.constant(y, tf.float32), books), users, n_users
    ).numpy()
    counts = np.bincount(users, minlength=n_users).astype(np.float32)
    return sums / np.sqrt(np.maximum(counts, 1.0))[:, None]
