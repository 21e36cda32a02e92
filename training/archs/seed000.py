"""`seed000`: the Django book manager's model, as published.

5-dim user and book embeddings, concatenated -> Dense 128 -> 32 -> 1, adam, MSE, 10 epochs.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import layers, ops

from training.archs.base import Architecture


@keras.saving.register_keras_serializable(package="bookrec")
class Seed000(keras.Model):
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


@dataclass(frozen=True)
class Seed000Architecture(Architecture):
    def build(self, n_users, n_books, global_mean, scale, book_counts) -> keras.Model:
        model = Seed000(n_users, n_books, **self.model_params)
        model.compile(optimizer=keras.optimizers.Adam(self.learning_rate), loss="mse")
        return model


ARCH = Seed000Architecture(
    "seed000",
    epochs=10,
    batch_size=32,
    learning_rate=1e-3,
    early_stopping=False,
    model_params={"dim": 5},
)
