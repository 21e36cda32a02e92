"""What an architecture declares, and the defaults most share.

The pipeline, the fit loop and the export only talk to an `Architecture`: adding one is its
own module (a subclass, its Keras model) and a line in the registry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
from keras import ops

if TYPE_CHECKING:
    from training.data import Encoded

Validation = tuple[np.ndarray, np.ndarray, np.ndarray]  # users, books, stars (encoded)


@dataclass
class FitResult:
    model: keras.Model
    epochs: int  # epochs actually kept (best epoch for early stopping)
    history: dict[str, list[float]]
    seconds: float


@dataclass(frozen=True)
class Architecture:
    """A Keras model exposes ``score_all(user_index) -> (ranking scores, stars)`` over the
    whole catalog (exported as ``score_user.onnx``) and ``book_vectors()``; with
    ``folds_in``, also ``score_vector(user_vector, user_bias)`` (``score_vector.onnx``)."""

    name: str
    epochs: int
    batch_size: int
    learning_rate: float
    early_stopping: bool
    model_params: dict[str, Any] = field(default_factory=dict)
    patience: int = 3
    folds_in: bool = False  # exports score_vector and a vector fold-in kind

    def fit(
        self,
        data: Encoded,
        scale: tuple[float, float],
        seed: int,
        epochs: int,
        validation: Validation | None,
        verbose: int | str,
    ) -> FitResult | None:
        """The architecture's own training loop; None (the default): `training.fit`'s
        generic Keras loop. Same contract: with `validation` and early stopping, the best
        epoch's weights and count."""
        return None

    def warm_fit(
        self,
        data: Encoded,
        scale: tuple[float, float],
        seed: int,
        epochs: int,
        previous: FitResult,
        previous_data: Encoded,
        verbose: int | str,
    ) -> FitResult | None:
        """`epochs` epochs on `data` starting from `previous` (fit on `previous_data`'s ids);
        None (the default): this architecture cannot warm start, the caller fits cold."""
        return None

    def can_warm_start(
        self, hyperparameters: dict[str, Any], arrays: dict[str, Any], n_ratings: int = 0
    ) -> bool:
        """Whether `warm_fit_from` can start from a version with these hyperparameters and
        arrays (the same shapes) for a fit on `n_ratings` ratings; False (the default):
        incremental retraining fits cold."""
        return False

    def warm_fit_from(
        self,
        data: Encoded,
        scale: tuple[float, float],
        seed: int,
        epochs: int,
        arrays: dict[str, np.ndarray],
        verbose: int | str,
    ) -> FitResult | None:
        """`epochs` epochs on `data` starting from a published version's arrays (its
        `user_ids`/`book_ids` maps and what `arrays()` wrote); None: fit cold."""
        return None

    def prepare_holdout(self, model: keras.Model, users: np.ndarray, books: np.ndarray) -> None:
        """A selection-fit model is reused as the holdout model (large data): bring what it
        serves up to date with the whole training part's ratings (encoded in its own ids).
        Nothing to do for models whose reader vectors are their trained rows."""

    def build(
        self,
        n_users: int,
        n_books: int,
        global_mean: float,
        scale: tuple[float, float],
        book_counts: np.ndarray,
    ) -> keras.Model:
        """A compiled model for these sizes (`book_counts`: ratings per book index)."""
        raise NotImplementedError

    def targets(self, stars: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
        """What the model is fit to, per rating: the stars, unless the model says otherwise."""
        return stars.astype(np.float32)

    def resolved_params(self, model: keras.Model) -> dict[str, Any]:
        """Hyperparameters as the model resolved them (e.g. an "auto" choice), for the manifest."""
        return {}

    def arrays(self, model: keras.Model) -> dict[str, np.ndarray]:
        """Arrays the server reads beside the graphs (besides the id maps)."""
        return {"book_factors": np.asarray(model.book_vectors(), dtype=np.float32)}

    def fold_in(self, model: keras.Model) -> dict[str, Any]:
        """The manifest's `fold_in` entry: the kind inference uses for unseen readers."""
        return {"kind": "similarity"}


def embedding_matrix(layer: keras.layers.Embedding) -> np.ndarray:
    return np.asarray(ops.convert_to_numpy(layer.embeddings), dtype=np.float32)
