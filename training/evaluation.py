"""The evaluation protocol, scored through the exported model (inference layer), not Keras."""

from __future__ import annotations

import numpy as np
import pandas as pd

from inference import Recommender
from inference.metrics import mae, ranking_metrics, rmse, top_k_rows

K = 10


def _relevant(test: pd.DataFrame) -> dict[int, set[int]]:
    return {int(u): set(map(int, g)) for u, g in test.groupby("user_id")["book_id"]}


def _rated(train: pd.DataFrame) -> dict[int, np.ndarray]:
    return {int(u): g.to_numpy() for u, g in train.groupby("user_id")["book_id"]}


def evaluate_recommender(
    rec: Recommender, train: pd.DataFrame, test: pd.DataFrame, k: int = K
) -> dict[str, float]:
    """RMSE/MAE on held-out pairs; top-k metrics over every known book not rated in training.

    Pairs the model cannot score (a book first rated in the test part) are predicted as the
    training mean and counted in ``coverage``.
    """
    if test.empty:  # nobody has enough ratings to hold any out
        return {"users": 0, "coverage": 0.0}
    pred = rec.predict_stars(test["user_id"].to_numpy(), test["book_id"].to_numpy())
    coverage = float(np.mean(np.isfinite(pred))) if len(pred) else 0.0
    pred = np.where(
        np.isfinite(pred), pred, float(rec.manifest.get("rating_mean", np.nanmean(pred)))
    )
    truth = test["stars"].to_numpy(np.float32)
    result = {"rmse": rmse(truth, pred), "mae": mae(truth, pred), "coverage": coverage}

    relevant = _relevant(test)
    rated = _rated(train)
    users = np.array(sorted(relevant), dtype=np.int64)
    index = rec.user_index(users)
    users, index = users[index >= 0], index[index >= 0]
    rankings: dict[int, list[int]] = {}
    for start in range(0, users.size, 512):
        scores, _ = rec.score_users(index[start : start + 512])
        for row, user in enumerate(users[start : start + 512]):
            seen = rec.book_index(rated.get(int(user), np.empty(0, np.int64)))
            scores[row, seen[seen >= 0]] = -np.inf
        top = top_k_rows(scores, k)
        for row, user in enumerate(users[start : start + 512]):
            rankings[int(user)] = rec.book_ids[top[row]].tolist()
    result.update({key: v for key, v in ranking_metrics(rankings, relevant, k).items()})
    return result


def most_rated_baseline(train: pd.DataFrame, test: pd.DataFrame, k: int = K) -> dict[str, float]:
    """The protocol's popularity baseline: books ranked by how often they were rated in
    training; stars = the book's mean rating. (Serving's popularity, db.popularity, ranks by
    likes first: a different ranking, for readers the model cannot speak for.)"""
    if test.empty:
        return {"users": 0, "coverage": 0.0}
    counts = train.groupby("book_id").size().sort_values(ascending=False, kind="stable")
    order = counts.index.to_numpy()
    rated = _rated(train)
    rankings = {}
    for user in test["user_id"].unique():
        seen = set(rated[int(user)].tolist()) if int(user) in rated else set()
        picks = [int(b) for b in order[: k + len(seen)] if b not in seen][:k]
        rankings[int(user)] = picks
    mean = float(train["stars"].mean())
    book_mean = train.groupby("book_id")["stars"].mean()
    pred = test["book_id"].map(book_mean).fillna(mean).to_numpy(np.float32)
    truth = test["stars"].to_numpy(np.float32)
    result = {"rmse": rmse(truth, pred), "mae": mae(truth, pred), "coverage": 1.0}
    result.update(ranking_metrics(rankings, _relevant(test), k))
    return result


def evaluate_fold_in(
    rec: Recommender, history: pd.DataFrame, test: pd.DataFrame, k: int = K
) -> dict[str, float]:
    """Readers the model never saw: fold in each one's ``history`` ratings, score ``test``.

    One ``recommend_for_history`` / ``predict_stars_for_history`` call per reader (the
    serving path for readers who signed up after training).
    """
    rankings: dict[int, list[int]] = {}
    truth, pred = [], []
    for user, rated in history.groupby("user_id"):
        held = test[test["user_id"] == user]
        if held.empty:
            continue
        pairs = list(zip(rated["book_id"].tolist(), rated["stars"].tolist(), strict=True))
        rankings[int(user)] = [b for b, _ in rec.recommend_for_history(pairs, k=k)]
        stars = rec.predict_stars_for_history(pairs, held["book_id"].to_numpy())
        fallback = float(rated["stars"].mean())
        pred.append(np.where(np.isfinite(stars), stars, fallback))
        truth.append(held["stars"].to_numpy(np.float32))
    result = {"rmse": rmse(np.concatenate(truth), np.concatenate(pred))} if truth else {}
    if truth:
        result["mae"] = mae(np.concatenate(truth), np.concatenate(pred))
    result.update(ranking_metrics(rankings, _relevant(test[test["user_id"].isin(rankings)]), k))
    return result
