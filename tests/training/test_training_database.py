"""train / evaluate through a real database: ratings come in through db.queries.ratings_frame."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from artifact import ModelStore
from inference import Recommender
from training.pipeline import evaluate, train


def _recbole_files(ratings: pd.DataFrame, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    inter = ratings.rename(
        columns={"user_id": "user_id:token", "book_id": "item_id:token", "stars": "rating:float"}
    )
    inter["timestamp:float"] = 880000000
    inter.to_csv(directory / "ml-100k.inter", sep="\t", index=False)
    items = pd.DataFrame({"item_id:token": sorted(ratings["book_id"].unique())})
    items["movie_title:token_seq"] = [f"Book {i}" for i in items["item_id:token"]]
    items["release_year:token"] = "1999"
    items["class:token_seq"] = "Drama"
    items.to_csv(directory / "ml-100k.item", sep="\t", index=False)
    return directory


@pytest.fixture
def database_url(ratings, tmp_path) -> str:
    from bench.ml100k import write_ml100k_from_recbole
    from db import importers
    from db.engine import make_engine
    from db.schema_setup import upgrade

    ml = write_ml100k_from_recbole(
        _recbole_files(ratings.astype({"stars": "int64"}), tmp_path / "raw"), tmp_path / "ml"
    )
    url = f"sqlite:///{tmp_path / 'ratings.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        importers.import_movielens(engine, ml, progress=False)
    finally:
        engine.dispose()
    return url


def test_train_and_evaluate_from_a_database(database_url, ratings, tmp_path) -> None:
    models = tmp_path / "models"
    result = train(database_url, models, arch="default", epochs=2, seed=1)
    assert result.published and ModelStore(models).current() == result.version
    rec = Recommender.load(models)
    assert rec.n_books == ratings["book_id"].nunique()
    assert rec.manifest["n_ratings"] == len(ratings)
    evaluation = evaluate(database_url, models)
    assert [name for name, _ in evaluation.rows][1] == "most-rated"
    assert evaluation.rows[0][1]["users"] > 0
