"""Serve a model artifact with numpy + onnxruntime only."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from . import artifact
from .errors import ArtifactError

USER_GRAPH = "score_user"  # user_index[N] -> scores[N, B], stars[N, B]
VECTOR_GRAPH = "score_vector"  # user_vector[N, d], user_bias[N] -> scores[N, B], stars[N, B]
OUTPUTS = ("scores", "stars")
_CELLS_PER_RUN = 1_000_000  # users x books per onnx run when scoring many users
_OPTIONAL_ARRAYS = ("book_bias", "rank_projection", "rank_bias")


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest finite scores, best first (one argpartition)."""
    k = min(k, scores.size)
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    best = part[np.argsort(-scores[part], kind="stable")]
    return best[np.isfinite(scores[best])]  # excluded books (-inf) never fill a list


class _IdIndex:
    """Positions of external ids (user or book ids) in a model's arrays; -1 where unknown."""

    def __init__(self, ids: np.ndarray) -> None:
        self._order = np.argsort(ids, kind="stable")
        self._sorted = ids[self._order]
        self._scalar = {int(v): i for i, v in enumerate(ids.tolist())}

    def position(self, id_: int) -> int:
        return self._scalar.get(int(id_), -1)

    def positions(self, ids: Iterable[int] | np.ndarray) -> np.ndarray:
        """Vectorised: one searchsorted over the sorted ids."""
        if isinstance(ids, np.ndarray):
            ids = ids.astype(np.int64, copy=False).ravel()
        elif isinstance(ids, set | frozenset):
            ids = np.fromiter(ids, dtype=np.int64, count=len(ids))
        else:
            ids = np.asarray(list(ids), dtype=np.int64).ravel()
        if self._sorted.size == 0:
            return np.full(ids.shape, -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self._sorted, ids), self._sorted.size - 1)
        return np.where(self._sorted[pos] == ids, self._order[pos], -1)


class Recommender:
    """A loaded, verified artifact. Safe for concurrent reads from many threads."""

    def __init__(
        self,
        path: Path,
        manifest: dict[str, Any],
        sessions: dict[str, ort.InferenceSession],
        arrays: dict[str, np.ndarray],
    ):
        self.path = path
        self.manifest = manifest
        self._sessions = sessions
        self._user_ids = arrays["user_ids"].astype(np.int64)
        self._book_ids = arrays["book_ids"].astype(np.int64)
        self._users = _IdIndex(self._user_ids)
        self._books = _IdIndex(self._book_ids)
        factors = arrays["book_factors"].astype(np.float32)
        self._book_factors = factors
        norms = np.linalg.norm(factors, axis=1, keepdims=True)
        self._book_unit = factors / np.maximum(norms, 1e-12)
        self._book_bias = arrays.get("book_bias")
        self._rank_projection = arrays.get("rank_projection")
        self._rank_bias = arrays.get("rank_bias")
        self._projected: np.ndarray | None = None  # see _projected_books
        self._fold_in = manifest.get("fold_in", {"kind": "similarity"})
        low, high = manifest["rating_scale"]
        self.rating_scale = (float(low), float(high))

    # ---------------------------------------------------------------- loading
    @classmethod
    def load(cls, path: str | Path, threads: int = 0) -> Recommender:
        """Load an artifact dir (or a models dir's CURRENT version) and verify it end to end."""
        root = artifact.resolve(path)
        manifest = artifact.read_manifest(root)
        artifact.verify_checksums(root, manifest)
        arrays = cls._load_arrays(root, manifest)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        sessions = {}
        for name, spec in manifest["graphs"].items():
            sessions[name] = cls._open_graph(root, name, spec, manifest, options)
        if USER_GRAPH not in sessions:
            raise ArtifactError(f"{root / artifact.MANIFEST}: no {USER_GRAPH!r} graph listed")
        rec = cls(root, manifest, sessions, arrays)
        rec._smoke_test()
        return rec

    @staticmethod
    def _load_arrays(root: Path, manifest: dict[str, Any]) -> dict[str, np.ndarray]:
        arrays = {}
        for name in ("user_ids", "book_ids", "book_factors", *_OPTIONAL_ARRAYS):
            file = manifest.get("arrays", {}).get(name)
            if file is None:
                if name in _OPTIONAL_ARRAYS:
                    continue
                raise ArtifactError(f"{root / artifact.MANIFEST}: no array {name!r} listed")
            if file not in manifest["files"]:
                raise ArtifactError(f"{root / file}: not covered by a checksum in the manifest")
            try:
                arrays[name] = np.load(root / file, allow_pickle=False)
            except Exception as exc:  # numpy raises several types for bad files
                raise ArtifactError(f"{root / file}: not a readable .npy array ({exc})") from exc
        n_users, n_books = manifest["n_users"], manifest["n_books"]
        dim = arrays["book_factors"].shape[-1] if arrays["book_factors"].ndim == 2 else -1
        expected = {
            "user_ids": (n_users,),
            "book_ids": (n_books,),
            "book_bias": (n_books,),
            "rank_bias": (n_books,),
            "rank_projection": (dim, dim),
        }
        for name, shape in expected.items():
            if name in arrays and arrays[name].shape != shape:
                where = root / manifest["arrays"][name]
                raise ArtifactError(f"{where}: shape {arrays[name].shape}, expected {shape}")
        factors = arrays["book_factors"]
        if factors.ndim != 2 or factors.shape[0] != n_books:
            where = root / manifest["arrays"]["book_factors"]
            raise ArtifactError(f"{where}: shape {factors.shape}, expected ({n_books}, d)")
        for name, values in arrays.items():
            if not np.all(np.isfinite(values)):
                raise ArtifactError(f"{root / manifest['arrays'][name]}: contains NaN or infinity")
        return arrays

    @staticmethod
    def _open_graph(
        root: Path,
        name: str,
        spec: dict[str, Any],
        manifest: dict[str, Any],
        options: ort.SessionOptions,
    ) -> ort.InferenceSession:
        file = root / spec.get("file", "")
        if spec.get("file") not in manifest["files"]:
            raise ArtifactError(f"{file}: graph {name!r} is not covered by a checksum")
        try:
            session = ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ArtifactError(f"{file}: onnxruntime cannot load the graph ({exc})") from exc
        for kind, actual in (("input", session.get_inputs()), ("output", session.get_outputs())):
            wanted = spec.get(f"{kind}s", {})
            names = [a.name for a in actual]
            if sorted(names) != sorted(wanted):
                raise ArtifactError(f"{file}: {kind} names {names}, manifest says {sorted(wanted)}")
            for arg in actual:
                want = wanted[arg.name]
                if len(arg.shape) != len(want) or any(
                    isinstance(a, int) and isinstance(w, int) and a != w
                    for a, w in zip(arg.shape, want, strict=True)
                ):
                    raise ArtifactError(
                        f"{file}: {kind} {arg.name!r} has shape {arg.shape}, expected {want}"
                    )
        for out in spec.get("outputs", {}).values():
            if out[-1] != manifest["n_books"]:
                raise ArtifactError(
                    f"{file}: outputs must score {manifest['n_books']} books, not {out[-1]}"
                )
        return session

    def _smoke_test(self) -> None:
        probe = np.array(sorted({0, self.n_users - 1}), dtype=np.int64)
        scores, stars = self._run_users(probe)
        for label, values in (("scores", scores), ("stars", stars)):
            if values.shape != (probe.size, self.n_books) or not np.all(np.isfinite(values)):
                raise ArtifactError(
                    f"{self.path / self.manifest['graphs'][USER_GRAPH]['file']}: smoke run gave "
                    f"{label} of shape {values.shape} with non-finite values or a wrong shape"
                )
        if VECTOR_GRAPH in self._sessions:
            dim = self._book_factors.shape[1]
            out = self._sessions[VECTOR_GRAPH].run(
                list(OUTPUTS),
                {
                    "user_vector": np.zeros((1, dim), np.float32),
                    "user_bias": np.zeros((1,), np.float32),
                },
            )
            if not all(np.all(np.isfinite(o)) for o in out):
                where = self.path / self.manifest["graphs"][VECTOR_GRAPH]["file"]
                raise ArtifactError(f"{where}: smoke run gave NaN/inf")

    # ---------------------------------------------------------------- facts
    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def n_users(self) -> int:
        return int(self.manifest["n_users"])

    @property
    def n_books(self) -> int:
        return int(self.manifest["n_books"])

    @property
    def book_ids(self) -> np.ndarray:
        return self._book_ids

    @property
    def user_ids(self) -> np.ndarray:
        return self._user_ids

    def user_index(self, user_ids: Iterable[int] | np.ndarray) -> np.ndarray:
        return self._users.positions(user_ids)

    def book_index(self, book_ids: Iterable[int] | np.ndarray) -> np.ndarray:
        return self._books.positions(book_ids)

    def knows_user(self, user_id: int) -> bool:
        return self._users.position(user_id) >= 0

    def knows_book(self, book_id: int) -> bool:
        return self._books.position(book_id) >= 0

    # ---------------------------------------------------------------- scoring
    def _run_users(self, user_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores, stars = self._sessions[USER_GRAPH].run(
            list(OUTPUTS), {"user_index": np.asarray(user_index, dtype=np.int64)}
        )
        return scores, stars

    def _clip(self, stars: np.ndarray) -> np.ndarray:
        return np.clip(stars, *self.rating_scale)

    def _chunks(
        self, user_index: np.ndarray
    ) -> Iterator[tuple[int, tuple[np.ndarray, np.ndarray]]]:
        """(offset, (scores, stars)) per ONNX run, a bounded number of users x books each."""
        step = max(1, min(512, _CELLS_PER_RUN // max(self.n_books, 1)))
        for start in range(0, len(user_index), step):
            yield start, self._run_users(user_index[start : start + step])

    def score_users(self, user_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ranking scores and clipped stars for many user indices, in chunks of ONNX runs."""
        parts = [out for _, out in self._chunks(np.asarray(user_index, dtype=np.int64))]
        if not parts:
            empty = np.empty((0, self.n_books), np.float32)
            return empty, empty
        return np.concatenate([p[0] for p in parts]), self._clip(
            np.concatenate([p[1] for p in parts])
        )

    def predict_stars(
        self, user_ids: Sequence[int] | np.ndarray, book_ids: Sequence[int] | np.ndarray
    ) -> np.ndarray:
        """Predicted stars per (user, book) pair; NaN where the user or book is unknown."""
        u = self.user_index(user_ids)
        b = self.book_index(book_ids)
        if u.shape != b.shape:
            raise ValueError("user_ids and book_ids must have the same length")
        out = np.full(u.shape, np.nan, dtype=np.float32)
        ok = (u >= 0) & (b >= 0)
        if ok.any():
            users, inverse = np.unique(u[ok], return_inverse=True)
            books = b[ok]
            values = np.empty(inverse.size, dtype=np.float32)
            for start, (_, stars) in self._chunks(users):  # never all users x books at once
                rows = (inverse >= start) & (inverse < start + stars.shape[0])
                values[rows] = stars[inverse[rows] - start, books[rows]]
            out[ok] = self._clip(values)
        return out

    def _exclusion_mask(self, exclude: Iterable[int]) -> np.ndarray:
        idx = self.book_index(list(exclude))
        return idx[idx >= 0]

    def recommend(
        self, user_id: int, k: int = 10, exclude: Iterable[int] = ()
    ) -> list[tuple[int, float]]:
        """Top-k (book_id, ranking score) for a known reader, best first; KeyError if unknown."""
        return [(book, score) for book, score, _ in self.rank_user(user_id, k, exclude)]

    def rank_user(
        self, user_id: int, k: int = 10, exclude: Iterable[int] = ()
    ) -> list[tuple[int, float, float]]:
        """Top-k (book_id, ranking score, predicted stars) for a known reader, from ONE
        onnx run (scores and stars come out of the same graph)."""
        index = self._users.position(user_id)
        if index < 0:
            raise KeyError(
                f"user {user_id} is unknown to model {self.version}; use recommend_for_history"
            )
        scores, stars = self._run_users(np.array([index], dtype=np.int64))
        return self._ranked(scores[0], self._clip(stars[0]), k, exclude)

    def _ranked(
        self, scores: np.ndarray, stars: np.ndarray, k: int, exclude: Iterable[int]
    ) -> list[tuple[int, float, float]]:
        scores = np.array(scores, dtype=np.float32, copy=True)
        scores[self._exclusion_mask(exclude)] = -np.inf
        best = _top_k(scores, k)
        return [(int(self._book_ids[i]), float(scores[i]), float(stars[i])) for i in best]

    # ---------------------------------------------------------------- fold-in
    def _history(self, rated: Sequence[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
        if not rated:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        ids = np.array([int(r[0]) for r in rated], dtype=np.int64)
        stars = np.array([float(r[1]) for r in rated], dtype=np.float32)
        idx = self.book_index(ids)
        return idx[idx >= 0], stars[idx >= 0]

    def _fold_in_scores(
        self, rated: Sequence[tuple[int, float]]
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """(scores, stars) over all books for an unseen reader; None if no rated book is known."""
        idx, stars = self._history(rated)
        if idx.size == 0:
            return None
        kind = self._fold_in.get("kind")
        if kind in ("ridge", "joint") and VECTOR_GRAPH in self._sessions:
            vector, bias = self._ridge_user(idx, stars)
            if kind == "joint":
                vector, bias = self._refine_user(idx, stars, vector, bias)
            scores, pred = self._sessions[VECTOR_GRAPH].run(
                list(OUTPUTS),
                {"user_vector": vector[None, :], "user_bias": np.array([bias], np.float32)},
            )
            return scores[0], self._clip(pred[0])
        # Models without a linear rating head: taste profile in book-embedding space.
        weights = stars - stars.mean() + 1e-3
        profile = weights @ self._book_unit[idx]
        scores = self._book_unit @ profile
        return scores.astype(np.float32), np.full(self.n_books, stars.mean(), dtype=np.float32)

    def _ridge_user(self, idx: np.ndarray, stars: np.ndarray) -> tuple[np.ndarray, float]:
        """Least-squares user factors + bias against fixed book factors, with the model's L2.

        Training minimises per rating (r - mu - b_u - b_i - u.v)^2 + l2 |u|^2, so a reader with n
        ratings has ridge strength l2 * n on u (the bias gets a light l2 to stay finite).
        """
        mu = float(self._fold_in["global_mean"])
        l2 = float(self._fold_in["l2"])
        assert self._book_bias is not None
        target = stars - mu - self._book_bias[idx]
        design = np.hstack([self._book_factors[idx], np.ones((idx.size, 1), np.float32)]).astype(
            np.float64
        )
        reg = np.full(design.shape[1], l2 * idx.size)
        reg[-1] = l2
        solution = np.linalg.solve(
            design.T @ design + np.diag(reg), design.T @ target.astype(np.float64)
        )
        return solution[:-1].astype(np.float32), float(solution[-1])

    def _projected_books(self) -> np.ndarray:
        """Book factors times the ranking projection's transpose, float64, made on first use."""
        if self._projected is None:
            assert self._rank_projection is not None
            self._projected = (
                self._book_factors.astype(np.float64) @ self._rank_projection.astype(np.float64).T
            )
        return self._projected

    def _refine_user(
        self, idx: np.ndarray, stars: np.ndarray, u: np.ndarray, b: float
    ) -> tuple[np.ndarray, float]:
        """Gradient steps on the model's own per-reader training objective, from the ridge start.

        Objective (as in training, summed over the reader's n ratings): squared rating error
        + rank_weight * softmax cross-entropy of the books they chose + l2 * n * |u|^2
        + rank_l2 * n * |u K|^2 (+ l2 * b^2 to keep the bias finite). The choice term is what
        makes a new reader's list reflect *which* books they read, not only how they rated.
        """
        assert self._book_bias is not None
        assert self._rank_projection is not None and self._rank_bias is not None
        fold = self._fold_in
        mu, l2 = float(fold["global_mean"]), float(fold["l2"])
        weight, rank_l2 = float(fold["rank_weight"]), float(fold["rank_l2"])
        steps, rate = int(fold.get("steps", 50)), float(fold.get("learning_rate", 0.1))
        # The choice term only ever sees books through the projection: logits = books @ K^T u
        # and its gradient K @ books^T p, so one (books x d) float64 matrix, made once per
        # model, serves every step (no per-step casts of the catalog).
        projected = self._projected_books()
        chosen = self._book_factors[idx].astype(np.float64)
        kernel = self._rank_projection.astype(np.float64)
        chosen_projected = projected[idx].sum(0)
        rank_bias = self._rank_bias.astype(np.float64)
        n = idx.size
        target = (stars - mu - self._book_bias[idx]).astype(np.float64)
        u = u.astype(np.float64)
        for _ in range(steps):
            error = target - b - chosen @ u
            q = u @ kernel
            logits = projected @ u + rank_bias
            p = np.exp(logits - logits.max())
            p /= p.sum()
            grad_u = (
                -2 * (error @ chosen)
                + 2 * l2 * n * u
                + weight * (n * (p @ projected) - chosen_projected)
                + 2 * rank_l2 * n * (kernel @ q)
            )
            grad_b = -2 * error.sum() + 2 * l2 * b
            u = u - rate * grad_u / n
            b = b - rate * grad_b / n
        return u.astype(np.float32), float(b)

    def recommend_for_history(
        self, rated: Sequence[tuple[int, float]], k: int = 10, exclude: Iterable[int] = ()
    ) -> list[tuple[int, float]]:
        """Top-k for a reader the model has not seen, from their (book_id, stars) ratings.

        Rated books are never returned. Empty if none of the rated books is known.
        """
        return [(book, score) for book, score, _ in self.rank_history(rated, k, exclude)]

    def rank_history(
        self, rated: Sequence[tuple[int, float]], k: int = 10, exclude: Iterable[int] = ()
    ) -> list[tuple[int, float, float]]:
        """Top-k (book_id, ranking score, predicted stars) for an unseen reader: the reader
        is folded in once and both outputs come from that one pass."""
        folded = self._fold_in_scores(rated)
        if folded is None:
            return []
        return self._ranked(folded[0], folded[1], k, [*exclude, *(int(r[0]) for r in rated)])

    def predict_stars_for_history(
        self, rated: Sequence[tuple[int, float]], book_ids: Sequence[int] | np.ndarray
    ) -> np.ndarray:
        """Predicted stars of ``book_ids`` for an unseen reader; NaN for unknown books."""
        b = self.book_index(book_ids)
        out = np.full(b.shape, np.nan, dtype=np.float32)
        folded = self._fold_in_scores(rated)
        if folded is not None:
            out[b >= 0] = folded[1][b[b >= 0]]
        return out

    # ---------------------------------------------------------------- similarity
    def similar_books(self, book_id: int, k: int = 10) -> list[tuple[int, float]]:
        """Nearest books by cosine in the model's book-embedding space (never the book itself)."""
        index = self._books.position(book_id)
        if index < 0:
            return []
        cosine = self._book_unit @ self._book_unit[index]
        cosine[index] = -np.inf
        return [(int(self._book_ids[i]), float(cosine[i])) for i in _top_k(cosine, k)]

    def most_similar_among(self, book_id: int, candidate_book_ids: Iterable[int]) -> int | None:
        """The candidate closest to ``book_id`` (e.g. for "because you rated X"), or None."""
        index = self._books.position(book_id)
        candidates = np.array([c for c in candidate_book_ids if c != book_id], dtype=np.int64)
        if index < 0 or candidates.size == 0:
            return None
        cand_index = self.book_index(candidates)
        known = cand_index >= 0
        if not known.any():
            return None
        cosine = self._book_unit[cand_index[known]] @ self._book_unit[index]
        return int(candidates[known][int(np.argmax(cosine))])

    def most_similar_each(
        self, book_ids: Sequence[int], candidate_book_ids: Sequence[int]
    ) -> list[int | None]:
        """For each of ``book_ids``, the candidate closest to it (never itself), in one
        matrix product: the vectorised form of `most_similar_among`."""
        targets = self.book_index(book_ids)
        candidates = np.asarray(list(candidate_book_ids), dtype=np.int64)
        cand_index = self.book_index(candidates)
        known = cand_index >= 0
        candidates, cand_index = candidates[known], cand_index[known]
        if candidates.size == 0:
            return [None] * len(targets)
        cosine = self._book_unit[np.maximum(targets, 0)] @ self._book_unit[cand_index].T
        cosine[cand_index[None, :] == targets[:, None]] = -np.inf  # a book never explains itself
        best = np.argmax(cosine, axis=1)
        found = (targets >= 0) & np.isfinite(cosine[np.arange(len(targets)), best])
        return [
            int(c) if ok else None
            for c, ok in zip(candidates[best].tolist(), found.tolist(), strict=True)
        ]
