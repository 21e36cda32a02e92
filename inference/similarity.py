"""Book-to-book similarity: cosine in the model's book-embedding space."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from inference.ids import IdIndex
from inference.metrics import top_k


class BookSimilarity:
    def __init__(self, book_ids: np.ndarray, book_factors: np.ndarray, books: IdIndex) -> None:
        # Columns that are zero for every book change no cosine (a packed ensemble's book
        # factors are half such columns): leaving them out halves the memory each
        # "because" and each diversity re-ranking reads.
        used = np.flatnonzero(np.any(book_factors != 0, axis=0))
        if 0 < used.size < book_factors.shape[1]:
            book_factors = book_factors[:, used]
        norms = np.linalg.norm(book_factors, axis=1, keepdims=True)
        # Row-major: "because" and diversity gather rows (a column selection above leaves
        # the array column-major, where each row's values lie a whole column apart).
        self.unit = np.ascontiguousarray(book_factors / np.maximum(norms, 1e-12), np.float32)
        self._book_ids = book_ids
        self._books = books

    def similar_books(
        self,
        book_id: int,
        k: int = 10,
        excluded: np.ndarray | None = None,
        allowed: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        """Nearest books by cosine (never the book itself). `excluded` and `allowed` are book
        positions (-1 entries ignored): never offered, and the only ones that compete."""
        index = self._books.position(book_id)
        if index < 0:
            return []
        cosine = self.unit @ self.unit[index]
        if allowed is not None:
            keep = allowed[allowed >= 0]
            masked = np.full(cosine.shape, -np.inf, dtype=cosine.dtype)
            masked[keep] = cosine[keep]
            cosine = masked
        if excluded is not None:
            cosine[excluded[excluded >= 0]] = -np.inf
        cosine[index] = -np.inf
        return [(int(self._book_ids[i]), float(cosine[i])) for i in top_k(cosine, k)]

    def vectors(self, book_ids: Sequence[int]) -> np.ndarray:
        """Unit vectors of these books (zeros for books the model does not know)."""
        index = self._books.positions(book_ids)
        out = np.zeros((len(index), self.unit.shape[1]), dtype=np.float32)
        out[index >= 0] = self.unit[index[index >= 0]]
        return out

    def most_similar_among(self, book_id: int, candidate_book_ids: Iterable[int]) -> int | None:
        """The candidate closest to ``book_id`` (e.g. for "because you rated X"), or None."""
        index = self._books.position(book_id)
        candidates = np.array([c for c in candidate_book_ids if c != book_id], dtype=np.int64)
        if index < 0 or candidates.size == 0:
            return None
        cand_index = self._books.positions(candidates)
        known = cand_index >= 0
        if not known.any():
            return None
        cosine = self.unit[cand_index[known]] @ self.unit[index]
        return int(candidates[known][int(np.argmax(cosine))])

    def most_similar_each(
        self, book_ids: Sequence[int], candidate_book_ids: Sequence[int]
    ) -> list[int | None]:
        """For each of ``book_ids``, the candidate closest to it (never itself), in one
        matrix product: the vectorised form of `most_similar_among` (ties: the first
        candidate given). A request's few ids are looked up one by one, in a dict."""
        position = self._books.by_id
        targets = [position.get(b, -1) for b in book_ids]
        known = [(c, p) for c in candidate_book_ids if (p := position.get(c, -1)) >= 0]
        if not known:
            return [None] * len(targets)
        candidates = [c for c, _ in known]
        cand_index = np.array([p for _, p in known], dtype=np.int64)
        target_index = np.array(targets, dtype=np.int64)
        cosine = self.unit[np.maximum(target_index, 0)] @ self.unit[cand_index].T
        cosine[cand_index[None, :] == target_index[:, None]] = -np.inf  # never explains itself
        best = cosine.argmax(axis=1)
        found = np.isfinite(cosine.max(axis=1)).tolist()
        return [
            candidates[b] if t >= 0 and ok else None
            for b, t, ok in zip(best.tolist(), targets, found, strict=True)
        ]
