"""Serve a model artifact with numpy + onnxruntime only."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from . import artifact
from .errors import ArtifactError

USER_GRAPH = "score_user"  # user_index[N] -> scores[N, B], stars[N, B]
VECTOR_GRAPH = "score_vector"  # user_vector[N, d], user_bias[N] -> scores[N, B], stars[N, B]
OUTPUTS = ("scores", "stars")
_CHUNK = 512  # users per onnx run when scoring many users


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest finite scores, best first (one argpartition)."""
    valid = int(np.isfinite(scores).sum())
    k = min(k, valid)
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


class Recommender:
    """A loaded, verified artifact. Safe for concurrent reads from many threads."""

    def __init__(self, path: Path, manifest: dict[str, Any], sessions: dict[str, ort.InferenceSession],
                 arrays: dict[str, np.ndarray]):
        self.path = path
        self.manifest = manifest
        self._sessions = sessions
        self._user_ids = arrays["user_ids"].astype(np.int64)
        self._book_ids = arrays["book_ids"].astype(np.int64)
        self._user_order = np.argsort(self._user_ids, kind="stable")
        self._book_order = np.argsort(self._book_ids, kind="stable")
        factors = arrays["book_factors"].astype(np.float32)
        self._book_factors = factors
        norms = np.linalg.norm(factors, axis=1, keepdims=True)
        self._book_unit = factors / np.maximum(norms, 1e-12)
        self._book_bias = arrays.get("book_bias")
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
        for name in ("user_ids", "book_ids", "book_factors", "book_bias"):
            file = manifest.get("arrays", {}).get(name)
            if file is None:
                if name == "book_bias":
                    continue
                raise ArtifactError(f"{root / artifact.MANIFEST}: no array {name!r} listed")
            if file not in manifest["files"]:
                raise ArtifactError(f"{root / file}: not covered by a checksum in the manifest")
            try:
                arrays[name] = np.load(root / file, allow_pickle=False)
            except Exception as exc:  # numpy raises several types for bad files
                raise ArtifactError(f"{root / file}: not a readable .npy array ({exc})") from exc
        n_users, n_books = manifest["n_users"], manifest["n_books"]
        expected = {"user_ids": (n_users,), "book_ids": (n_books,), "book_bias": (n_books,)}
        for name, shape in expected.items():
            if name in arrays and arrays[name].shape != shape:
                raise ArtifactError(
                    f"{root / manifest['arrays'][name]}: shape {arrays[name].shape}, expected {shape}"
                )
        factors = arrays["book_factors"]
        if factors.ndim != 2 or factors.shape[0] != n_books:
            raise ArtifactError(
                f"{root / manifest['arrays']['book_factors']}: shape {factors.shape}, expected ({n_books}, d)"
            )
        for name, values in arrays.items():
            if not np.all(np.isfinite(values)):
                raise ArtifactError(f"{root / manifest['arrays'][name]}: contains NaN or infinity")
        return arrays

    @staticmethod
    def _open_graph(root: Path, name: str, spec: dict[str, Any], manifest: dict[str, Any],
                    options: ort.SessionOptions) -> ort.InferenceSession:
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
                    isinstance(a, int) and isinstance(w, int) and a != w for a, w in zip(arg.shape, want)
                ):
                    raise ArtifactError(f"{file}: {kind} {arg.name!r} has shape {arg.shape}, expected {want}")
        for out in spec.get("outputs", {}).values():
            if out[-1] != manifest["n_books"]:
                raise ArtifactError(f"{file}: outputs must score {manifest['n_books']} books, not {out[-1]}")
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
                {"user_vector": np.zeros((1, dim), np.float32), "user_bias": np.zeros((1,), np.float32)},
            )
            if not all(np.all(np.isfinite(o)) for o in out):
                raise ArtifactError(
                    f"{self.path / self.manifest['graphs'][VECTOR_GRAPH]['file']}: smoke run gave NaN/inf"
                )

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

    def _index(self, ids: Iterable[int] | np.ndarray, known: np.ndarray, order: np.ndarray) -> np.ndarray:
        """Positions of ``ids`` in ``known`` (-1 where unknown), vectorised."""
        ids = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64).ravel()
        if known.size == 0:
            return np.full(ids.shape, -1, dtype=np.int64)
        sorted_known = known[order]
        pos = np.clip(np.searchsorted(sorted_known, ids), 0, known.size - 1)
        found = sorted_known[pos] == ids
        return np.where(found, order[pos], -1)

    def user_index(self, user_ids: Iterable[int] | np.ndarray) -> np.ndarray:
        return self._index(user_ids, self._user_ids, self._user_order)

    def book_index(self, book_ids: Iterable[int] | np.ndarray) -> np.ndarray:
        return self._index(book_ids, self._book_ids, self._book_order)

    def knows_user(self, user_id: int) -> bool:
        return bool(self.user_index([user_id])[0] >= 0)

    def knows_book(self, book_id: int) -> bool:
        return bool(self.book_index([book_id])[0] >= 0)

    # ---------------------------------------------------------------- scoring
    def _run_users(self, user_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores, stars = self._sessions[USER_GRAPH].run(
            list(OUTPUTS), {"user_index": np.asarray(user_index, dtype=np.int64)}
        )
        return scores, stars

    def _clip(self, stars: np.ndarray) -> np.ndarray:
        return np.clip(stars, *self.rating_scale)

    def score_users(self, user_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ranking scores and clipped stars for many user indices, in chunks of ONNX runs."""
        parts = [self._run_users(user_index[i : i + _CHUNK]) for i in range(0, len(user_index), _CHUNK)]
        if not parts:
            empty = np.empty((0, self.n_books), np.float32)
            return empty, empty
        return np.concatenate([p[0] for p in parts]), self._clip(np.concatenate([p[1] for p in parts]))

    def predict_stars(self, user_ids: Sequence[int] | np.ndarray, book_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Predicted stars per (user, book) pair; NaN where the user or book is unknown."""
        u = self.user_index(user_ids)
        b = self.book_index(book_ids)
        if u.shape != b.shape:
            raise ValueError("user_ids and book_ids must have the same length")
        out = np.full(u.shape, np.nan, dtype=np.float32)
        ok = (u >= 0) & (b >= 0)
        if ok.any():
            users, inverse = np.unique(u[ok], return_inverse=True)
            _, stars = self.score_users(users)
            out[ok] = stars[inverse, b[ok]]
        return out

    def _exclusion_mask(self, exclude: Iterable[int]) -> np.ndarray:
        idx = self.book_index(list(exclude))
        return idx[idx >= 0]

    def _top(self, scores: np.ndarray, k: int, exclude: Iterable[int]) -> list[tuple[int, float]]:
        scores = np.array(scores, dtype=np.float32, copy=True)
        scores[self._exclusion_mask(exclude)] = -np.inf
        best = _top_k(scores, k)
        return [(int(self._book_ids[i]), float(scores[i])) for i in best]

    def recommend(self, user_id: int, k: int = 10, exclude: Iterable[int] = ()) -> list[tuple[int, float]]:
        """Top-k (book_id, ranking score) for a known reader, best first; KeyError if unknown."""
        index = self.user_index([user_id])
        if index[0] < 0:
            raise KeyError(f"user {user_id} is unknown to model {self.version}; use recommend_for_history")
        scores, _ = self._run_users(index)
        return self._top(scores[0], k, exclude)

    # ---------------------------------------------------------------- fold-in
    def _history(self, rated: Sequence[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
        if not rated:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        ids = np.array([int(r[0]) for r in rated], dtype=np.int64)
        stars = np.array([float(r[1]) for r in rated], dtype=np.float32)
        idx = self.book_index(ids)
        return idx[idx >= 0], stars[idx >= 0]

    def _fold_in_scores(self, rated: Sequence[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray] | None:
        """(scores, stars) over all books for an unseen reader; None if no rated book is known."""
        idx, stars = self._history(rated)
        if idx.size == 0:
            return None
        if self._fold_in.get("kind") == "ridge" and VECTOR_GRAPH in self._sessions:
            vector, bias = self._ridge_user(idx, stars)
            scores, pred = self._sessions[VECTOR_GRAPH].run(
                list(OUTPUTS), {"user_vector": vector[None, :], "user_bias": np.array([bias], np.float32)}
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
        design = np.hstack([self._book_factors[idx], np.ones((idx.size, 1), np.float32)]).astype(np.float64)
        reg = np.full(design.shape[1], l2 * idx.size)
        reg[-1] = l2
        solution = np.linalg.solve(design.T @ design + np.diag(reg), design.T @ target.astype(np.float64))
        return solution[:-1].astype(np.float32), float(solution[-1])

    def recommend_for_history(self, rated: Sequence[tuple[int, float]], k: int = 10,
                              exclude: Iterable[int] = ()) -> list[tuple[int, float]]:
        """Top-k for a reader the model has not seen, from their (book_id, stars) ratings.

        Rated books are never returned. Empty if none of the rated books is known.
        """
        folded = self._fold_in_scores(rated)
        if folded is None:
            return []
        return self._top(folded[0], k, [*exclude, *(int(r[0]) for r in rated)])

    def predict_stars_for_history(self, rated: Sequence[tuple[int, float]],
                                  book_ids: Sequence[int] | np.ndarray) -> np.ndarray:
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
        index = self.book_index([book_id])[0]
        if index < 0:
            return []
        cosine = self._book_unit @ self._book_unit[index]
        cosine[index] = -np.inf
        return [(int(self._book_ids[i]), float(cosine[i])) for i in _top_k(cosine, k)]

    def most_similar_among(self, book_id: int, candidate_book_ids: Iterable[int]) -> int | None:
        """The candidate closest to ``book_id`` (e.g. for "because you rated X"), or None."""
        index = self.book_index([book_id])[0]
        candidates = np.array([c for c in candidate_book_ids if c != book_id], dtype=np.int64)
        if index < 0 or candidates.size == 0:
            return None
        cand_index = self.book_index(candidates)
        known = cand_index >= 0
        if not known.any():
            return None
        cosine = self._book_unit[cand_index[known]] @ self._book_unit[index]
        return int(candidates[known][int(np.argmax(cosine))])
