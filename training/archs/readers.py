"""`readers`: JointFactorModel's two heads on shared factors, trained on batches of whole
readers with the exact full softmax (`readers_model.ImplicitJointModel`, its own loop in
`readers_loop`). The ranking head has a reader vector of its own besides the shared one
(`rank_vector`) and `members` models are fit side by side (lockstep epochs, early stopping
on their mean) and served as their mean, both below `small_below` ratings (`small`); both
are served as one plain model of a wider dim (`readers_pack`). Optional SVD++ reader factors
(x = p + |N|^-1/2 sum y), off: on ML-100K validation they improved RMSE and lowered nDCG.
Fold-in: `readers` (inference.foldin). Design and figures: docs/research/model-at-scale.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from training.archs import readers_pack
from training.archs.base import Architecture, FitResult
from training.archs.readers_loop import Trainer, restore, run_epochs, snapshot, warm_start
from training.archs.readers_model import ImplicitJointModel, implicit_part
from training.archs.readers_pack import MemberWeights

FOLD_IN_STEPS = 50
FOLD_IN_LEARNING_RATE = 0.1
# Loop settings, not model hyperparameters: taken out of model_params before building.
_LOOP_PARAMS = (
    "steps_per_epoch",
    "readers_per_batch",
    "user_lr",
    "eval_every",
    "members",
    "small",
    "small_below",
)


@dataclass(frozen=True)
class ReadersArchitecture(Architecture):
    """`batch_size` counts readers per batch unless `steps_per_epoch` is set (then the
    batch is readers / steps, so it grows with the data)."""

    def params_for(self, n_ratings: int) -> dict[str, Any]:
        """model_params, with `small`'s overrides below `small_below` ratings (more capacity
        and members where a fit takes seconds; above, epoch time is what counts, and the
        seed-to-seed spread that averaging removes shrinks with the data)."""
        params = dict(self.model_params)
        if n_ratings < int(params.get("small_below", 0)):
            params.update(params.get("small", {}))
        return params

    def build(self, n_users, n_books, global_mean, scale, book_counts) -> keras.Model:
        """Sized by the number of ratings (`params_for`: the sum of `book_counts`)."""
        params = self.params_for(int(np.sum(book_counts)))
        params = {k: v for k, v in params.items() if k not in _LOOP_PARAMS}
        return ImplicitJointModel(n_users, n_books, global_mean=global_mean, **params)

    def _readers_per_batch(self, users: np.ndarray) -> int:
        steps = self.model_params.get("steps_per_epoch")
        if steps:
            return max(1, -(-int(np.unique(users).size) // int(steps)))
        return int(self.model_params.get("readers_per_batch", self.batch_size))

    def members_for(self, n_ratings: int) -> int:
        """Models fit side by side (seeds seed, seed + 1, ...) and served as their mean."""
        return int(self.params_for(n_ratings).get("members", 1))

    def _members(self, data, seed: int) -> list[ImplicitJointModel]:
        """Fresh members; the first with the caller's random state (one member: as before),
        member j initialised from seed + j."""
        counts = np.bincount(data.books, minlength=data.n_books)
        mean = float(np.mean(data.stars))
        members = []
        for j in range(self.members_for(data.users.size)):
            if j:
                keras.utils.set_random_seed(seed + j)
            members.append(self.build(data.n_users, data.n_books, mean, (0.0, 0.0), counts))
        return members

    def _trainers(self, members, data, seed) -> list[Trainer]:
        return [
            Trainer(
                model,
                data.users,
                data.books,
                data.stars,
                readers_per_batch=self._readers_per_batch(data.users),
                learning_rate=self.learning_rate,
                user_lr=float(self.model_params.get("user_lr", 0.2)),
                seed=seed + j,
            )
            for j, model in enumerate(members)
        ]

    def fit(self, data, scale, seed, epochs, validation, verbose) -> FitResult:
        """Early stopping as the generic loop does it (ValidationRanking's val_objective of
        the served model, `patience` evaluations without a new best), best weights restored."""
        from training.fit import ValidationRanking  # the generic loop's module imports base

        members = self._members(data, seed)
        served = readers_pack.pack(members)
        checker = None
        if self.early_stopping and validation is not None:
            checker = ValidationRanking((data.users, data.books), validation, scale, seed=seed)
            checker.set_model(served)
        eval_every = int(self.model_params.get("eval_every", 1))
        best: dict[str, Any] = {"value": -np.inf, "epoch": 0, "weights": None, "bad": 0}

        def on_epoch(epoch: int, logs: dict) -> bool:
            if checker is None or ((epoch + 1) % eval_every and epoch + 1 < epochs):
                return False
            self._serve(members, served, data)  # validation scores the served x
            checker.on_epoch_end(epoch, logs)
            if logs["val_objective"] > best["value"]:
                best.update(value=logs["val_objective"], epoch=epoch + 1, bad=0)
                best["weights"] = snapshot(served)
                return False
            best["bad"] += 1
            return bool(best["bad"] >= self.patience)

        started = time.perf_counter()
        trainers = self._trainers(members, data, seed)
        history = run_epochs(trainers, epochs, on_epoch, 0 if verbose == "auto" else verbose)
        kept = len(history["loss"])
        if best["weights"] is not None:
            restore(served, best["weights"])
            kept = best["epoch"]
        else:
            self._serve(members, served, data)
        return FitResult(served, kept, history, time.perf_counter() - started)

    @staticmethod
    def _serve(members, served, data) -> None:
        for model in members:
            model.materialize(data.users, data.books)
        if served is not members[0]:
            readers_pack.assign(served, members)

    def warm_fit(self, data, scale, seed, epochs, previous, previous_data, verbose) -> FitResult:
        previous_ids = (previous_data.user_ids, previous_data.book_ids)
        old = readers_pack.weights_of(previous.model)
        return self._warm(data, seed, epochs, old, previous_ids, verbose)

    def _warm(self, data, seed, epochs, old: MemberWeights, previous_ids, verbose) -> FitResult:
        """Every member from its block of the previous served model, `epochs` epochs."""
        keras.utils.set_random_seed(seed)
        members = self._members(data, seed)
        dim, rank_vector = int(members[0].dim), bool(members[0].rank_vector)
        width = readers_pack.width(dim, rank_vector)
        olds = readers_pack.unpack(old, old.book_factors.shape[1] // width, dim, rank_vector)
        ids = (data.user_ids, data.book_ids)
        # members are exchangeable: with more than before, the old ones are reused in turn
        kept = [
            warm_start(m, olds[j % len(olds)], ids, previous_ids) for j, m in enumerate(members)
        ]
        started = time.perf_counter()
        trainers = self._trainers(members, data, seed)
        history = run_epochs(trainers, epochs, None, 0 if verbose == "auto" else verbose)
        history["warm_start"] = [float(kept[0]["users_kept"]), float(kept[0]["books_kept"])]
        served = readers_pack.pack(members)
        self._serve(members, served, data)
        return FitResult(served, epochs, history, time.perf_counter() - started)

    def can_warm_start(self, hyperparameters, arrays, n_ratings=0) -> bool:
        needed = {"user_ids", "book_ids", "user_factors", "user_bias", "book_factors"}
        needed |= {"book_bias", "rank_projection", "rank_bias"}
        if not needed <= set(arrays):
            return False
        params = self.params_for(n_ratings)  # what this fit will be; e.g. crossed small_below
        return (
            hyperparameters.get("member_dim") == params.get("dim", 64)
            and hyperparameters.get("member_rank_vector") == bool(params.get("rank_vector"))
            and hyperparameters.get("implicit") == params.get("implicit")
        )

    def warm_fit_from(self, data, scale, seed, epochs, arrays, verbose) -> FitResult:
        """From a published version: its served reader vectors x_u are p_u (plus, with the
        implicit part, |N(u)|^-1/2 sum y over the history, taken off again here over the
        current history: an approximation for readers who rated since)."""
        user_factors = np.asarray(arrays["user_factors"], dtype=np.float32)
        implicit = arrays.get("implicit_factors")
        if implicit is not None and bool(self.model_params.get("implicit")):
            old_users = np.asarray(arrays["user_ids"])
            rows = np.searchsorted(old_users, data.user_ids[data.users])
            hit = (rows < old_users.size) & (
                old_users[np.minimum(rows, old_users.size - 1)] == data.user_ids[data.users]
            )
            old_books = np.asarray(arrays["book_ids"])
            cols = np.searchsorted(old_books, data.book_ids[data.books])
            hit &= (cols < old_books.size) & (
                old_books[np.minimum(cols, old_books.size - 1)] == data.book_ids[data.books]
            )
            user_factors = user_factors - implicit_part(
                np.asarray(implicit), rows[hit], cols[hit], old_users.size
            )
        old = MemberWeights(
            user_factors=user_factors,
            user_bias=np.asarray(arrays["user_bias"]),
            book_factors=np.asarray(arrays["book_factors"]),
            implicit_factors=np.asarray(
                implicit if implicit is not None else np.zeros_like(arrays["book_factors"])
            ),
            book_bias=np.asarray(arrays["book_bias"]),
            rank_bias=np.asarray(arrays["rank_bias"]),
            kernel=np.asarray(arrays["rank_projection"]),
            rank_users=np.zeros((0, 0), np.float32),  # in user_factors' r blocks
        )
        previous_ids = (np.asarray(arrays["user_ids"]), np.asarray(arrays["book_ids"]))
        return self._warm(data, seed, epochs, old, previous_ids, verbose)

    def prepare_holdout(self, model, users, books) -> None:
        model.materialize(users, books)

    def resolved_params(self, model: keras.Model) -> dict[str, Any]:
        return {
            "softmax": model.softmax,
            "served_dim": int(model.dim),
            "member_dim": int(getattr(model, "member_dim", model.dim)),
            "member_rank_vector": bool(getattr(model, "member_rank_vector", model.rank_vector)),
            "members_fit": int(getattr(model, "members_fit", 1)),
        }

    def arrays(self, model: keras.Model) -> dict[str, np.ndarray]:
        arrays = {
            **super().arrays(model),
            # x_u as score_user serves it: a refreshed list starts its fold-in from it
            "user_factors": np.asarray(model.served_users, dtype=np.float32),
            "user_bias": np.asarray(model.user_bias, dtype=np.float32),
            "book_bias": np.asarray(model.book_bias, dtype=np.float32),
            "rank_projection": np.asarray(model.kernel, dtype=np.float32),
            "rank_bias": np.asarray(model.rank_bias, dtype=np.float32),
        }
        if model.implicit:
            arrays["implicit_factors"] = np.asarray(model.implicit_factors, dtype=np.float32)
        return arrays

    def fold_in(self, model: keras.Model) -> dict[str, Any]:
        return {
            "kind": "readers",  # x = |N|^-1/2 sum y + p; ridge start, then objective steps
            "l2": float(model.l2),
            "rank_weight": float(model.rank_weight),
            "rank_l2": float(model.rank_l2),
            "global_mean": float(model.global_mean),
            "implicit": bool(model.implicit),
            "steps": FOLD_IN_STEPS,
            "learning_rate": FOLD_IN_LEARNING_RATE,
        }


# Tuned on a validation slice of the ML-100K training part only (r12's tune_implicit, then
# bench/tune_readers.py: docs/research/model-at-scale.md).
ARCH = ReadersArchitecture(
    "readers",
    epochs=60,
    batch_size=16,
    learning_rate=3e-3,
    early_stopping=True,
    model_params={
        "steps_per_epoch": 64,  # readers per batch = readers / 64
        "user_lr": 0.2,  # reader rows: one plain step on their own objective per batch
        "dim": 64,
        "l2": 0.12,
        "rank_weight": 1.5,
        "rank_l2": 0.1,
        "implicit": False,  # y factors: better RMSE, worse nDCG on ML-100K validation
        "rank_vector": False,
        # Below small_below ratings: the ranking head's own reader vector (q = xK + r) and
        # 3 seeds fit side by side, served as their mean (readers_pack), of twice the dim.
        # From there the config above, as before: at 5M ratings the rank vector made early
        # stopping keep epoch 2 (held-out RMSE 1.03 against 0.66), and members cost epochs.
        "small": {"dim": 128, "members": 3, "rank_vector": True},
        "small_below": 1_000_000,
    },
    folds_in=True,
)
