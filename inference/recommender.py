"""A loaded artifact, served with numpy + onnxruntime only."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from artifact import ArtifactError
from inference.foldin import FoldIn, Vector, fold_in_for
from inference.history import history_hash_of
from inference.ids import IdIndex
from inference.loading import OUTPUTS, USER_GRAPH, VECTOR_GRAPH, OpenedArtifact, open_artifact
from inference.metrics import top_k
from inference.similarity import BookSimilarity
from inference.vector_cache import VectorCache

_CELLS_PER_RUN = 1_000_000  # users x books per onnx run when scoring many users
Ranked = list[tuple[int, float, float]]  # (book id, ranking score, predicted stars), best first


class Recommender:
    """A verified artifact. Safe for concurrent reads from many threads."""

    def __init__(self, opened: OpenedArtifact) -> None:
        self.path = opened.root
        self.manifest = opened.manifest
        self._sessions = opened.sessions
        arrays = opened.arrays
        self._user_ids = arrays["user_ids"].astype(np.int64)
        self._book_ids = arrays["book_ids"].astype(np.int64)
        self._users = IdIndex(self._user_ids)
        self._books = IdIndex(self._book_ids)
        self._dim = int(arrays["book_factors"].shape[1])  # a reader vector's length
        self.similarity = BookSimilarity(
            self._book_ids, arrays["book_factors"].astype(np.float32), self._books
        )
        try:
            self._fold_in: FoldIn | None = fold_in_for(self.manifest, arrays)
        except KeyError as exc:
            raise ArtifactError(f"{self.path}: fold-in needs array {exc} (not listed)") from None
        low, high = self.manifest["rating_scale"]
        self.rating_scale = (float(low), float(high))
        self._history_hash = arrays.get("user_history_hash")
        self._user_factors = arrays.get("user_factors")
        self._user_bias = arrays.get("user_bias")
        self.vectors = VectorCache()

    @classmethod
    def load(cls, path: str | Path, threads: int = 0) -> Recommender:
        """Load an artifact dir (or a models dir's CURRENT version) and verify it end to end:
        every check of `inference.loading`, then a smoke run of every graph."""
        rec = cls(open_artifact(path, threads))
        rec._smoke_test()
        return rec

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
            out = self._run_vector(np.zeros(self._dim, np.float32), 0.0)
            if not all(np.all(np.isfinite(o)) for o in out):
                where = self.path / self.manifest["graphs"][VECTOR_GRAPH]["file"]
                raise ArtifactError(f"{where}: smoke run gave NaN/inf")

    # ---------------------------------------------------------------- facts
    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def architecture(self) -> str:
        return str(self.manifest.get("arch", "unknown"))

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

    @property
    def known_books(self) -> Mapping[int, int]:
        """The books this model knows, as id -> position (read-only): `id in known_books`
        for a request's few ids costs no call per id."""
        return self._books.by_id

    # ---------------------------------------------------------------- scoring
    def _run_users(self, user_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores, stars = self._sessions[USER_GRAPH].run(
            list(OUTPUTS), {"user_index": np.asarray(user_index, dtype=np.int64)}
        )
        return scores, stars

    def _run_vector(self, vector: np.ndarray, bias: float) -> tuple[np.ndarray, np.ndarray]:
        scores, stars = self._sessions[VECTOR_GRAPH].run(
            list(OUTPUTS),
            {"user_vector": vector[None, :], "user_bias": np.array([bias], np.float32)},
        )
        return scores[0], stars[0]

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

    def recommend(
        self, user_id: int, k: int = 10, exclude: Iterable[int] = ()
    ) -> list[tuple[int, float]]:
        """Top-k (book_id, ranking score) for a known reader, best first; KeyError if unknown."""
        return [(book, score) for book, score, _ in self.rank_user(user_id, k, exclude)]

    def rank_user(
        self,
        user_id: int,
        k: int = 10,
        exclude: Iterable[int] = (),
        allowed: np.ndarray | None = None,
    ) -> Ranked:
        """Top-k for a known reader, from ONE onnx run (scores and stars come out of the same
        graph). `allowed`: only these book ids compete (a mask before the top-k)."""
        index = self._users.position(user_id)
        if index < 0:
            raise KeyError(
                f"user {user_id} is unknown to model {self.version}; use recommend_for_history"
            )
        scores, stars = self._run_users(np.array([index], dtype=np.int64))
        return self._ranked(scores[0], stars[0], k, exclude, allowed)

    def _ranked(
        self,
        scores: np.ndarray,
        stars: np.ndarray,
        k: int,
        exclude: Iterable[int],
        allowed: np.ndarray | None = None,
    ) -> Ranked:
        if allowed is None:
            scores = np.array(scores, dtype=np.float32, copy=True)
        else:
            keep = self.book_index(allowed)
            keep = keep[keep >= 0]
            masked = np.full(scores.shape, -np.inf, dtype=np.float32)
            masked[keep] = scores[keep]
            scores = masked
        excluded = self._books.known_positions(exclude)
        if len(excluded):
            scores[excluded] = -np.inf
        best = top_k(scores, k)
        low, high = self.rating_scale  # stars clipped here, for the k picks only
        return [
            (int(book), float(score), min(max(float(star), low), high))
            for book, score, star in zip(
                self._book_ids[best].tolist(),
                scores[best].tolist(),
                stars[best].tolist(),
                strict=True,
            )
        ]

    # ---------------------------------------------------------------- refreshed readers
    @property
    def can_refresh(self) -> bool:
        """Whether this artifact can tell a changed history and fold one in from the
        reader's trained vector (older artifacts cannot: their readers keep MODEL)."""
        return self._history_hash is not None and self._fold_in is not None

    def history_changed(self, user_id: int, rated: Sequence[tuple[int, float]]) -> bool:
        """Whether a known reader's ratings differ from those the model was trained on."""
        return self.changed_history(user_id, rated) is not None

    def changed_history(self, user_id: int, rated: Sequence[tuple[int, float]]) -> int | None:
        """The fingerprint of a known reader's ratings (`history_hash_of`) if it differs
        from that of the ratings the model was trained on; None if it does not (or the
        reader is unknown, or the artifact cannot tell)."""
        index = self._users.position(user_id)
        if index < 0 or self._history_hash is None:
            return None
        fingerprint = history_hash_of(rated)
        return None if fingerprint == int(self._history_hash[index]) else fingerprint

    def rank_refreshed(
        self,
        user_id: int,
        rated: Sequence[tuple[int, float]],
        k: int = 10,
        exclude: Iterable[int] = (),
        allowed: np.ndarray | None = None,
        fingerprint: int | None = None,
    ) -> Ranked:
        """Top-k for a known reader from their current ratings: a fold-in that starts from
        their trained vector (the same objective, steps from where training left them).
        `fingerprint`: `history_hash_of(rated)`, if the caller has it already."""
        index = self._users.position(user_id)
        start: Vector | None = None
        if index >= 0 and self._user_factors is not None and self._user_bias is not None:
            start = (self._user_factors[index], float(self._user_bias[index]))
        folded = self._fold_in_scores(rated, start=start, key=user_id, fingerprint=fingerprint)
        if folded is None:
            return self.rank_user(user_id, k, exclude, allowed)
        excluded = [*exclude, *(int(r[0]) for r in rated)]
        return self._ranked(folded[0], folded[1], k, excluded, allowed)

    # ---------------------------------------------------------------- fold-in
    def _history(self, rated: Sequence[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
        if not rated:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        ids = np.array([int(r[0]) for r in rated], dtype=np.int64)
        stars = np.array([float(r[1]) for r in rated], dtype=np.float32)
        idx = self.book_index(ids)
        return idx[idx >= 0], stars[idx >= 0]

    def _fold_in_scores(
        self,
        rated: Sequence[tuple[int, float]],
        start: Vector | None = None,
        key: int | None = None,
        fingerprint: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """(scores, unclipped stars) over all books for a reader given by their ratings;
        None if no rated book is known. The folded vector is cached by (`key`, the ratings'
        fingerprint): `key` names the reader whose trained vector `start` is; `fingerprint`
        is `history_hash_of(rated)` if the caller has it. A cached vector is scored without
        looking at the ratings again."""
        known_books = self._books.by_id
        if not any(book in known_books for book, _ in rated):
            return None
        if self._fold_in is not None:
            fold_in = self._fold_in
            if fingerprint is None:
                fingerprint = history_hash_of(rated)

            def fold() -> Vector:
                idx, stars = self._history(rated)
                return fold_in.vector(idx, stars, start)

            vector, bias = self.vectors.get((key, fingerprint), fold)
            return self._run_vector(vector, bias)
        # Models without a linear rating head: taste profile in book-embedding space.
        idx, stars = self._history(rated)
        unit = self.similarity.unit
        weights = stars - stars.mean() + 1e-3
        profile = weights @ unit[idx]
        return (unit @ profile).astype(np.float32), np.full(
            self.n_books, stars.mean(), dtype=np.float32
        )

    def recommend_for_history(
        self, rated: Sequence[tuple[int, float]], k: int = 10, exclude: Iterable[int] = ()
    ) -> list[tuple[int, float]]:
        """Top-k for a reader the model has not seen, from their (book_id, stars) ratings.

        Rated books are never returned. Empty if none of the rated books is known.
        """
        return [(book, score) for book, score, _ in self.rank_history(rated, k, exclude)]

    def rank_history(
        self,
        rated: Sequence[tuple[int, float]],
        k: int = 10,
        exclude: Iterable[int] = (),
        allowed: np.ndarray | None = None,
    ) -> Ranked:
        """Top-k for an unseen reader: the reader is folded in once and both outputs come
        from that one pass."""
        folded = self._fold_in_scores(rated)
        if folded is None:
            return []
        excluded = [*exclude, *(int(r[0]) for r in rated)]
        return self._ranked(folded[0], folded[1], k, excluded, allowed)

    def predict_stars_for_history(
        self, rated: Sequence[tuple[int, float]], book_ids: Sequence[int] | np.ndarray
    ) -> np.ndarray:
        """Predicted stars of ``book_ids`` for an unseen reader; NaN for unknown books."""
        b = self.book_index(book_ids)
        out = np.full(b.shape, np.nan, dtype=np.float32)
        folded = self._fold_in_scores(rated)
        if folded is not None:
            out[b >= 0] = self._clip(folded[1][b[b >= 0]])
        return out

    # ---------------------------------------------------------------- similarity
    def similar_books(
        self,
        book_id: int,
        k: int = 10,
        exclude: Iterable[int] = (),
        allowed: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        return self.similarity.similar_books(
            book_id,
            k,
            self.book_index(list(exclude)),
            None if allowed is None else self.book_index(allowed),
        )

    def most_similar_among(self, book_id: int, candidate_book_ids: Iterable[int]) -> int | None:
        return self.similarity.most_similar_among(book_id, candidate_book_ids)

    def most_similar_each(
        self, book_ids: Sequence[int], candidate_book_ids: Sequence[int]
    ) -> list[int | None]:
        return self.similarity.most_similar_each(book_ids, candidate_book_ids)
