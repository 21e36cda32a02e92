"""What the recommendation controls do to quality, on MovieLens-100K, through the real chain.

    .venv/bin/python bench/controls.py [--arch default] [--cache DIR] [--max-steps 10]

1. **Lists that follow the reader** (a temporal replay): each reader's ratings in time
   order; the model is trained on the first 80% of every reader's ratings (readers with at
   least 10); then their later ratings are replayed one at a time. Before each one, is the
   book they rate next in the top 10? Hit rate and nDCG@10 of the *stale* list (the trained
   vector: what every list was before lists followed the reader) beside the *refreshed* list
   (the chain's REFRESHED path: a fold-in of the current ratings from the trained vector).
   Books already rated at that moment are excluded from both.
2. **diversity** 0, 0.3, 0.6 on the protocol split (per reader 25% held out, seed 42):
   nDCG@10, intra-list similarity (mean pairwise cosine of the model's book vectors in each
   top 10), and genre coverage (distinct genres per top 10; of 18).
3. **categoryId**: for each genre, nDCG@10 inside the genre (relevant = the reader's held-out
   movies of that genre, readers with at least one) for the model masked to the genre
   against the genre's most-rated movies.

Figures come from `recommend.chain.recommend` with a trained model exported to ONNX and
loaded by the inference layer; nothing is scored on training data.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
]  # fmt: skip


def read_ml100k(directory: Path) -> tuple[pd.DataFrame, dict[int, frozenset[int]]]:
    ratings = pd.read_csv(
        directory / "u.data", sep="\t", names=["user_id", "book_id", "stars", "ts"]
    ).astype({"stars": "float32"})
    genres: dict[int, frozenset[int]] = {}
    for line in (directory / "u.item").read_text(encoding="latin-1").splitlines():
        parts = line.split("|")
        flags = parts[5:]
        genres[int(parts[0])] = frozenset(i for i, f in enumerate(flags) if f == "1" and i > 0)
    return ratings, genres


def train_model(arch_name: str, train: pd.DataFrame, workdir: Path, seed: int = 42):  # type: ignore[no-untyped-def]
    from inference import Recommender
    from training import archs
    from training import data as data_mod
    from training.fit import fit
    from training.pipeline import epochs_by_validation
    from training.writer import base_manifest, write_artifact

    arch = archs.get(arch_name)
    frame = data_mod.normalise(train)
    scale = data_mod.rating_scale(frame)
    started = time.perf_counter()
    epochs, _ = epochs_by_validation(arch, frame, scale, seed, None, 0)
    encoded = data_mod.encode(frame)
    fitted = fit(arch, encoded, scale, seed, epochs=epochs, verbose=0)
    manifest = base_manifest(arch, epochs, seed, frame, scale)
    manifest.update(version="bench", metrics={}, baseline_metrics={})
    workdir.mkdir(parents=True, exist_ok=True)
    write_artifact(workdir, fitted, encoded, arch, manifest)
    print(
        f"  trained {arch_name}: {epochs} epochs, {time.perf_counter() - started:.0f}s", flush=True
    )
    return Recommender.load(workdir)


def popularity_index(train: pd.DataFrame, genres: dict[int, frozenset[int]]):  # type: ignore[no-untyped-def]
    from db.popularity import PopularityIndex

    counts = train.groupby("book_id").size()
    order = sorted(genres, key=lambda b: (-int(counts.get(b, 0)), b))
    scores = (1.0 / np.log2(np.arange(len(order)) + 2.0)).astype(np.float32)
    return PopularityIndex(np.array(order, dtype=np.int64), scores, genres)


def ndcg_one(ranked: list[int], target: int) -> float:
    return 1.0 / np.log2(ranked.index(target) + 2) if target in ranked else 0.0


def replay(model, ratings: pd.DataFrame, train_share: float, max_steps: int) -> str:  # type: ignore[no-untyped-def]
    stale_hits, fresh_hits, stale_ndcg, fresh_ndcg = [], [], [], []
    refreshed = 0
    stale_seconds = fresh_seconds = 0.0  # each refreshed list follows a new rating: a fold-in
    for user, group in ratings.groupby("user_id"):
        group = group.sort_values(["ts", "book_id"], kind="stable")
        n_train = int(len(group) * train_share)
        if len(group) < 10 or not model.knows_user(int(user)):
            continue
        books = group["book_id"].tolist()
        stars = group["stars"].tolist()
        for t in range(n_train, min(len(group), n_train + max_steps)):
            history = list(zip(books[:t], stars[:t], strict=True))
            target = books[t]
            started = time.perf_counter()
            stale = [b for b, _, _ in model.rank_user(int(user), 10, exclude=books[:t])]
            stale_seconds += time.perf_counter() - started
            if model.history_changed(int(user), history):
                refreshed += 1
                started = time.perf_counter()
                fresh = [b for b, _, _ in model.rank_refreshed(int(user), history, 10)]
                fresh_seconds += time.perf_counter() - started
            else:
                fresh = stale
            stale_hits.append(target in stale)
            fresh_hits.append(target in fresh)
            stale_ndcg.append(ndcg_one(stale, target))
            fresh_ndcg.append(ndcg_one(fresh, target))
    from app.tables import text_table

    rows = [
        ("stale (trained vector)", np.mean(stale_hits), np.mean(stale_ndcg), 1000 * stale_seconds / max(len(stale_hits), 1)),
        ("refreshed (REFRESHED)", np.mean(fresh_hits), np.mean(fresh_ndcg), 1000 * fresh_seconds / max(refreshed, 1)),
    ]  # fmt: skip
    return (
        f"Temporal replay: {len(stale_hits):,} next ratings replayed ({refreshed:,} with a "
        f"changed history; ms/list: the model's ranking alone, and for a refreshed list the "
        f"fold-in of the new history as well, which a server does once per new rating)\n"
        + text_table(
            ["list", "hit@10", "nDCG@10", "ms/list"], rows, formats=[None, ".4f", ".4f", ".2f"]
        )
    )


def protocol_split(ratings: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    from training.split import stratified_split
    from training.writer import SPLIT_SEED, TEST_FRACTION

    return stratified_split(ratings[["user_id", "book_id", "stars"]], TEST_FRACTION, SPLIT_SEED)


def diversity_table(model, train, test, genres, popularity) -> str:  # type: ignore[no-untyped-def]
    from app.tables import text_table
    from recommend.chain import recommend
    from recommend.types import ReaderState, Request

    relevant = {int(u): set(g) for u, g in test.groupby("user_id")["book_id"]}
    history = {
        int(u): list(zip(g["book_id"].tolist(), g["stars"].tolist(), strict=True))
        for u, g in train.groupby("user_id")
    }
    rows = []
    for diversity in (0.0, 0.3, 0.6):
        ndcgs, similarity, coverage = [], [], []
        started = time.perf_counter()
        for user, wanted in relevant.items():
            reader = ReaderState(user, history.get(user, []), frozenset(), frozenset())
            picks = recommend(reader, Request(10, False, diversity=diversity), model, popularity)
            ranked = [p.book_id for p in picks]
            hits = [b in wanted for b in ranked]
            ideal = sum(1 / np.log2(i + 2) for i in range(min(len(wanted), 10)))
            ndcgs.append(sum(h / np.log2(i + 2) for i, h in enumerate(hits)) / ideal)
            unit = model.similarity.vectors(ranked)
            pairs = unit @ unit.T
            similarity.append((pairs.sum() - np.trace(pairs)) / (len(ranked) * (len(ranked) - 1)))
            coverage.append(len(set().union(*(genres.get(b, frozenset()) for b in ranked))))
        ms = (time.perf_counter() - started) / len(relevant) * 1000
        rows.append(
            (f"diversity {diversity}", np.mean(ndcgs), np.mean(similarity), np.mean(coverage), ms)
        )
    return "diversity on the protocol split (held-out part, every reader)\n" + text_table(
        ["list", "nDCG@10", "intra-list sim", "genres/list", "ms/list"],
        rows,
        formats=[None, ".4f", ".4f", ".2f", ".2f"],
    )


def category_table(model, train, test, genres, popularity) -> str:  # type: ignore[no-untyped-def]
    from app.tables import text_table
    from recommend.chain import recommend
    from recommend.types import ReaderState, Request

    history = {
        int(u): list(zip(g["book_id"].tolist(), g["stars"].tolist(), strict=True))
        for u, g in train.groupby("user_id")
    }
    held = test.groupby("user_id")["book_id"].apply(set).to_dict()
    rows = []
    for genre in range(1, len(GENRES)):
        model_ndcg, popular_ndcg = [], []
        for user, books in held.items():
            wanted = {b for b in books if genre in genres.get(b, frozenset())}
            if not wanted:
                continue
            seen = {b for b, _ in history.get(user, [])}
            reader = ReaderState(int(user), history.get(user, []), frozenset(), frozenset())
            picks = recommend(reader, Request(10, False, category_id=genre), model, popularity)
            popular = [b for b, _ in popularity.top(10, seen, within=genre)]
            ideal = sum(1 / np.log2(i + 2) for i in range(min(len(wanted), 10)))
            for ranked, out in (([p.book_id for p in picks], model_ndcg), (popular, popular_ndcg)):
                out.append(
                    sum((b in wanted) / np.log2(i + 2) for i, b in enumerate(ranked)) / ideal
                )
        if model_ndcg:
            rows.append(
                (GENRES[genre], len(model_ndcg), np.mean(model_ndcg), np.mean(popular_ndcg))
            )
    return "categoryId: nDCG@10 inside each genre (held-out movies of the genre)\n" + text_table(
        ["genre", "readers", "model (masked)", "most-rated in genre"],
        rows,
        formats=[None, None, ".4f", ".4f"],
    )


def main(argv: list[str] | None = None) -> None:
    from _machine import load_line, machine_info
    from quality import DEFAULT_CACHE, fetch_ml100k

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="default")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--max-steps", type=int, default=10, help="replayed ratings per reader")
    args = parser.parse_args(argv)
    from app.native_stderr import filter_tensorflow_chatter

    filter_tensorflow_chatter()
    print("\n".join(machine_info()), flush=True)
    ratings, genres = read_ml100k(fetch_ml100k(args.cache))
    with tempfile.TemporaryDirectory(prefix="bookrec-controls-") as tmp:
        # 1: temporal split
        ordered = ratings.sort_values(["user_id", "ts", "book_id"], kind="stable")
        position = ordered.groupby("user_id").cumcount()
        size = ordered.groupby("user_id")["book_id"].transform("size")
        early = ordered[position < (size * 0.8).astype(int)]
        print("replay model (each reader's first 80% of ratings):", flush=True)
        model = train_model(args.arch, early[["user_id", "book_id", "stars"]], Path(tmp) / "r")
        print(replay(model, ratings, 0.8, args.max_steps), flush=True)
        # 2-3: the protocol split
        train, test = protocol_split(ratings)
        print("protocol model (the training part of the protocol split):", flush=True)
        model = train_model(args.arch, train, Path(tmp) / "p")
        popularity = popularity_index(train, genres)
        print(diversity_table(model, train, test, genres, popularity), flush=True)
        print(category_table(model, train, test, genres, popularity), flush=True)
    print(load_line(after_run=True))


if __name__ == "__main__":
    main()
