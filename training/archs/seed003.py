"""`seed003`: RecommenderNet (the Keras movie recommender), as published.

32-dim embeddings (he_normal, L2 1e-6) plus biases, dot product, sigmoid, binary
cross-entropy on stars scaled to [0, 1], Adam 1e-3, batch 64, 5 epochs.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from keras import layers, ops

from training.archs.base import Architecture


@keras.saving.register_keras_serializable(package="bookrec")
class Seed003(keras.Model):
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
        return ops.sigmoid(logit)  # stars scaled to [0, 1]; score_all rescales

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


@dataclass(frozen=True)
class Seed003Architecture(Architecture):
    def build(self, n_users, n_books, global_mean, scale, book_counts) -> keras.Model:
        model = Seed003(
            n_users, n_books, star_low=scale[0], star_high=scale[1], **self.model_params
        )
        model.compile(
            optimizer=keras.optimizers.Adam(self.learning_rate), loss="binary_crossentropy"
        )
        return model

    def targets(self, stars: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
        low, high = scale
        return ((stars - low) / max(high - low, 1e-6)).astype(np.float32)


ARCH = Seed003Architecture(
    "seed003",
    epochs=5,
    batch_size=64,
    learning_rate=1e-3,
    early_stopping=False,
    model_params={"dim": 32},
)
