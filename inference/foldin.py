"""Fold-in: a vector for a reader the model was not trained on, from their ratings.

Each architecture names its kind in the manifest (`fold_in.kind`), with the parameters it
needs; the `score_vector` graph then scores the vector like a trained reader's.

- `ridge`: least squares for the reader's factors and bias against the fixed book factors,
  with the model's L2 (the rating head only);
- `joint`: the ridge solution, refined by gradient steps on the reader's share of the model's
  own training objective (rating error + choice cross-entropy + L2): `JointObjective`. A test
  proves it equal to the Keras loss it restates (tests/training/test_fold_in_objective.py);
- `readers`: the same for the `readers` architecture, whose reader vector is
  x = |N|^-1/2 sum_{j in N} y_j + p with optional per-book `implicit_factors` y: the history
  part is exact, p and the bias start from the ridge solution on what it leaves, and the steps
  are on `ReadersObjective` (its L2 falls on p, not x). Tested likewise;
- anything else (or no `score_vector` graph): no vector; the recommender falls back to a
  taste profile in book-embedding space.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

Vector = tuple[np.ndarray, float]  # reader factors, reader bias


class FoldIn(Protocol):
    def vector(self, idx: np.ndarray, stars: np.ndarray, start: Vector | None = None) -> Vector:
        """(reader factors, reader bias) for rated book positions `idx` with `stars`;
        `start`: the reader's trained vector, for a reader whose ratings changed since."""
        ...


class RidgeFoldIn:
    """Training minimises per rating (r - mu - b_u - b_i - u.v)^2 + l2 |u|^2, so a reader
    with n ratings has ridge strength l2 * n on u (the bias gets a light l2 to stay finite)."""

    def __init__(self, params: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.global_mean = float(params["global_mean"])
        self.l2 = float(params["l2"])
        self.book_factors = arrays["book_factors"].astype(np.float32)
        self.book_bias = arrays["book_bias"].astype(np.float32)

    def vector(self, idx: np.ndarray, stars: np.ndarray, start: Vector | None = None) -> Vector:
        """The closed form needs no start: the solution for the current ratings."""
        target = stars - self.global_mean - self.book_bias[idx]
        design = np.hstack([self.book_factors[idx], np.ones((idx.size, 1), np.float32)]).astype(
            np.float64
        )
        reg = np.full(design.shape[1], self.l2 * idx.size)
        reg[-1] = self.l2
        solution = np.linalg.solve(
            design.T @ design + np.diag(reg), design.T @ target.astype(np.float64)
        )
        return solution[:-1].astype(np.float32), float(solution[-1])


class JointObjective:
    """One reader's share of JointFactorModel's training loss, as a function of their
    factors u and bias b, with every book parameter fixed (float64).

        value(u, b) = sum_i (r_i - mu - b - b_i - u.v_i)^2
                      + rank_weight * sum_i CE_i(u)          (softmax over every book)
                      + l2 * n * |u|^2 + rank_l2 * n * |u K|^2
                      + l2 * b^2                             (a light prior: b stays finite)

    Keras averages the same terms over a batch; for a batch holding exactly this reader's n
    ratings, n * loss = value - l2 * b^2 + l2 * sum_i |v_i|^2 (a constant in u and b)."""

    def __init__(
        self,
        params: dict[str, Any],
        arrays: dict[str, np.ndarray],
        projected: np.ndarray,
        idx: np.ndarray,
        stars: np.ndarray,
    ) -> None:
        self.mu, self.l2 = float(params["global_mean"]), float(params["l2"])
        self.weight, self.rank_l2 = float(params["rank_weight"]), float(params["rank_l2"])
        # The choice term only ever sees books through the projection: logits = books @ K^T u
        # and its gradient K @ books^T p, so one (books x d) float64 matrix, made once per
        # model (`projected`), serves every step.
        self.projected = projected
        self.kernel = arrays["rank_projection"].astype(np.float64)
        self.rank_bias = arrays["rank_bias"].astype(np.float64)
        self.chosen = arrays["book_factors"][idx].astype(np.float64)
        self.chosen_projected = projected[idx].sum(0)
        self.chosen_logits_bias = self.rank_bias[idx].sum()
        self.target = (stars - self.mu - arrays["book_bias"][idx]).astype(np.float64)
        self.n = idx.size

    def _softmax(self, u: np.ndarray) -> tuple[np.ndarray, float]:
        logits = self.projected @ u + self.rank_bias
        top = logits.max()
        p = np.exp(logits - top)
        total = p.sum()
        return p / total, float(top + np.log(total))

    def value(self, u: np.ndarray, b: float) -> float:
        error = self.target - b - self.chosen @ u
        _, log_partition = self._softmax(u)
        choice = self.n * log_partition - (self.chosen_projected @ u + self.chosen_logits_bias)
        q = u @ self.kernel
        return float(
            error @ error
            + self.weight * choice
            + self.l2 * self.n * (u @ u)
            + self.rank_l2 * self.n * (q @ q)
            + self.l2 * b * b
        )

    def gradient(self, u: np.ndarray, b: float) -> tuple[np.ndarray, float]:
        error = self.target - b - self.chosen @ u
        p, _ = self._softmax(u)
        q = u @ self.kernel
        grad_u = (
            -2 * (error @ self.chosen)
            + 2 * self.l2 * self.n * u
            + self.weight * (self.n * (p @ self.projected) - self.chosen_projected)
            + 2 * self.rank_l2 * self.n * (self.kernel @ q)
        )
        grad_b = -2 * error.sum() + 2 * self.l2 * b
        return grad_u, float(grad_b)


class JointFoldIn:
    """The ridge start, then `steps` gradient steps on `JointObjective`. The choice term is
    what makes a new reader's list reflect *which* books they read, not only how they rated."""

    def __init__(self, params: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.params = params
        self.arrays = arrays
        self.ridge = RidgeFoldIn(params, arrays)
        self.steps = int(params.get("steps", 50))
        self.rate = float(params.get("learning_rate", 0.1))
        self.projected = (
            arrays["book_factors"].astype(np.float64)
            @ arrays["rank_projection"].astype(np.float64).T
        )

    def objective(self, idx: np.ndarray, stars: np.ndarray) -> JointObjective:
        return JointObjective(self.params, self.arrays, self.projected, idx, stars)

    def ridge_start(self, idx: np.ndarray, stars: np.ndarray) -> Vector:
        return self.ridge.vector(idx, stars)

    def vector(self, idx: np.ndarray, stars: np.ndarray, start: Vector | None = None) -> Vector:
        u0, b = start if start is not None else self.ridge_start(idx, stars)
        objective = self.objective(idx, stars)
        u = u0.astype(np.float64)
        for _ in range(self.steps):
            grad_u, grad_b = objective.gradient(u, b)
            u = u - self.rate * grad_u / objective.n
            b = b - self.rate * grad_b / objective.n
        return u.astype(np.float32), float(b)


class ReadersObjective(JointObjective):
    """One reader's share of ImplicitJointModel's batch loss (times the reader's n ratings),
    as a function of the served vector x = base + p and bias b, `base` being the history's
    implicit part: JointObjective's terms with the L2 moved from x to p,

        value(x, b) = JointObjective.value(x, b) + l2 * n * (|x - base|^2 - |x|^2)."""

    def __init__(self, *args: Any, base: np.ndarray) -> None:
        super().__init__(*args)
        self.base = base

    def value(self, u: np.ndarray, b: float) -> float:
        p = u - self.base
        return super().value(u, b) + self.l2 * self.n * float(p @ p - u @ u)

    def gradient(self, u: np.ndarray, b: float) -> tuple[np.ndarray, float]:
        grad_u, grad_b = super().gradient(u, b)
        return grad_u - 2 * self.l2 * self.n * self.base, grad_b


class ReadersFoldIn(JointFoldIn):
    """x = base + p: `base` exact from the history (zero without `implicit_factors`), p and
    b by ridge on the residual the base leaves, then `steps` steps on `ReadersObjective`.
    `start` (a refreshed reader's trained x and bias) replaces the ridge start."""

    def __init__(self, params: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        super().__init__(params, arrays)
        # an artifact that says implicit but lacks the array is refused (KeyError)
        self.implicit = arrays["implicit_factors"] if params.get("implicit") else None

    def base(self, idx: np.ndarray) -> np.ndarray:
        if self.implicit is None or idx.size == 0:
            return np.zeros(self.projected.shape[1])
        return self.implicit[idx].astype(np.float64).sum(0) / np.sqrt(idx.size)

    def objective(self, idx: np.ndarray, stars: np.ndarray) -> ReadersObjective:
        return ReadersObjective(
            self.params, self.arrays, self.projected, idx, stars, base=self.base(idx)
        )

    def ridge_start(self, idx: np.ndarray, stars: np.ndarray) -> Vector:
        base = self.base(idx)
        shifted = stars - self.ridge.book_factors[idx].astype(np.float64) @ base
        p, b = self.ridge.vector(idx, shifted.astype(np.float32))
        return (base + p).astype(np.float32), b


KINDS: dict[str, type[RidgeFoldIn] | type[JointFoldIn]] = {
    "ridge": RidgeFoldIn,
    "joint": JointFoldIn,
    "readers": ReadersFoldIn,
}


def fold_in_for(manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> FoldIn | None:
    """The artifact's fold-in, or None when it has no vector fold-in (similarity profile)."""
    params = manifest.get("fold_in", {"kind": "similarity"})
    kind = KINDS.get(str(params.get("kind")))
    if kind is None or "score_vector" not in manifest["graphs"]:
        return None
    return kind(params, arrays)
