"""Scoring, top-k, fold-in and similarity against plain numpy on a hand-made artifact."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from artifact import ArtifactError, ModelStore
from inference import Recommender
from tests.support.artifacts import current_version, publish


@pytest.fixture
def loaded(make_artifact):
    path, params = make_artifact(n_users=6, n_books=8, dim=3)
    return Recommender.load(path), params


def _expected_scores(params, user):
    return params["U"][user] @ params["V"].T + params["c"]


def test_facts(loaded) -> None:
    rec, _params = loaded
    assert (rec.n_users, rec.n_books, rec.version) == (6, 8, "v0001")
    assert rec.knows_user(100) and not rec.knows_user(99)
    assert rec.knows_book(2000) and not rec.knows_book(2001)
    assert rec.manifest["arch"] == "fake"


def test_recommend_matches_numpy_and_honours_exclusions(loaded) -> None:
    rec, params = loaded
    expected = params["book_ids"][np.argsort(-_expected_scores(params, 2))]
    got = rec.recommend(102, k=3)
    assert [b for b, _ in got] == expected[:3].tolist()
    assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
    excluded = set(expected[:2].tolist()) | {999}
    got = rec.recommend(102, k=8, exclude=excluded)
    assert [b for b, _ in got] == expected[2:].tolist()
    assert rec.recommend(102, k=100)[-1][0] == expected[-1]
    with pytest.raises(KeyError, match="unknown"):
        rec.recommend(99)


def test_predict_stars_clipped_and_nan_for_unknown(loaded) -> None:
    rec, p = loaded
    users = [100, 101, 99, 105]
    books = [2000, 2014, 2000, 2001]
    got = rec.predict_stars(users, books)
    for i, (u, b) in enumerate([(0, 0), (1, 7)]):
        want = p["mu"] + p["bu"][u] + p["bi"][b] + p["U"][u] @ p["V"][b]
        assert got[i] == pytest.approx(np.clip(want, 1, 5), abs=1e-5)
    assert np.isnan(got[2]) and np.isnan(got[3])
    assert rec.predict_stars([], []).shape == (0,)


def test_fold_in_is_the_ridge_solution_scored_in_one_run(loaded) -> None:
    rec, p = loaded
    rated = [(2000, 5.0), (2002, 1.0), (2004, 4.0), (777, 3.0)]  # 777 is unknown: ignored
    idx = np.array([0, 1, 2])
    stars = np.array([5.0, 1.0, 4.0])
    design = np.hstack([p["V"][idx], np.ones((3, 1))])
    reg = np.diag([0.1 * 3] * 3 + [0.1])
    sol = np.linalg.solve(design.T @ design + reg, design.T @ (stars - p["mu"] - p["bi"][idx]))
    scores = p["V"] @ sol[:3] + p["c"]
    expected = [
        b for b in p["book_ids"][np.argsort(-scores)].tolist() if b not in {2000, 2002, 2004}
    ]
    got = rec.recommend_for_history(rated, k=5)
    assert [b for b, _ in got] == expected[:5]
    got = rec.recommend_for_history(rated, k=5, exclude={expected[0]})
    assert [b for b, _ in got] == expected[1:6]
    pred = rec.predict_stars_for_history(rated, [2006, 1])
    want = p["mu"] + sol[3] + p["bi"][3] + p["V"][3] @ sol[:3]
    assert pred[0] == pytest.approx(np.clip(want, 1, 5), abs=1e-4) and np.isnan(pred[1])
    assert rec.recommend_for_history([(777, 5.0)]) == []


def test_joint_fold_in_starts_from_ridge_and_follows_the_choices(make_artifact) -> None:
    rated = [(2000, 5.0), (2002, 1.0), (2004, 4.0)]
    ridge = Recommender.load(make_artifact("ridge")[0])
    inert = {"kind": "joint", "rank_weight": 0.0, "rank_l2": 0.0, "steps": 30}
    joint_without_choice = Recommender.load(make_artifact("inert", fold_in=inert)[0])
    # with the choice term off, the ridge solution is already optimal: nothing moves
    np.testing.assert_allclose(
        joint_without_choice._fold_in_scores(rated)[0], ridge._fold_in_scores(rated)[0], atol=1e-4
    )
    active = {"kind": "joint", "rank_weight": 1.0, "rank_l2": 0.0, "steps": 50}
    joint = Recommender.load(make_artifact("joint", fold_in=active)[0])
    chosen = joint.book_index([b for b, _ in rated])
    others = np.setdiff1d(np.arange(joint.n_books), chosen)

    def margin(rec):
        scores = rec._fold_in_scores(rated)[0]
        return scores[chosen].mean() - scores[others].mean()

    assert margin(joint) > margin(ridge)  # the books a reader chose rank higher after fold-in
    assert len(joint.recommend_for_history(rated, k=3)) == 3


def test_similar_books_by_cosine(loaded) -> None:
    rec, p = loaded
    unit = p["V"] / np.linalg.norm(p["V"], axis=1, keepdims=True)
    cosine = unit @ unit[4]
    order = [i for i in np.argsort(-cosine) if i != 4]
    got = rec.similar_books(2008, k=3)
    assert [b for b, _ in got] == p["book_ids"][order[:3]].tolist()
    assert [s for _, s in got] == pytest.approx(cosine[order[:3]].tolist(), abs=1e-5)
    assert rec.similar_books(1) == []
    candidates = [2008, 2000, 2010, 31337]
    best = max(
        (c for c in candidates if c != 2008 and c != 31337), key=lambda b: cosine[(b - 2000) // 2]
    )
    assert rec.most_similar_among(2008, candidates) == best
    assert rec.most_similar_among(2008, [2008, 31337]) is None
    assert rec.most_similar_among(1, [2000]) is None


def test_most_similar_each_is_most_similar_among_for_each(make_artifact) -> None:
    path, p = make_artifact(n_users=4, n_books=40, dim=5)
    rec = Recommender.load(path)
    books = p["book_ids"].tolist()
    rng = np.random.default_rng(3)
    for trial in range(30):
        targets = [*rng.choice(books, size=6).tolist(), 31337]  # one unknown target
        candidates = [*rng.choice(books, size=int(rng.integers(0, 9))).tolist(), 4]  # unknown
        if trial % 3 == 0:
            candidates.append(targets[0])  # a target among the candidates never explains itself
        got = rec.most_similar_each(targets, candidates)
        assert got == [rec.most_similar_among(t, candidates) for t in targets]
    assert rec.most_similar_each([books[0]], [books[0]]) == [None]
    assert rec.most_similar_each([books[0], books[1]], []) == [None, None]


def test_concurrent_reads_agree(loaded) -> None:
    rec, _ = loaded
    expected = rec.recommend(103, k=5)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: rec.recommend(103, k=5), range(200)))
    assert all(r == expected for r in results)


def test_models_dir_current_publish_and_rollback(tmp_path, make_artifact) -> None:
    models = tmp_path
    make_artifact("v0001", version="v0001")
    make_artifact("v0002", version="v0002", seed=1)
    make_artifact("v0003", version="v0003", seed=2)
    with pytest.raises(ArtifactError, match="neither an artifact"):
        Recommender.load(models)
    publish(models, "v0003")
    assert current_version(models) == "v0003"
    assert Recommender.load(models).version == "v0003"
    (models / "v0002" / "score_user.onnx").write_bytes(b"garbage")  # v0002 is now broken
    assert ModelStore(models).rollback(check=Recommender.load) == "v0001"  # skips the broken one
    assert Recommender.load(models).version == "v0001"
    with pytest.raises(ArtifactError, match="no valid version older"):
        ModelStore(models).rollback(check=Recommender.load)
    with pytest.raises(ArtifactError, match="sha256 mismatch"):
        publish(models, "v0002")
    assert current_version(models) == "v0001"


def test_many_users_are_scored_in_bounded_chunks(loaded, monkeypatch) -> None:
    import inference.recommender as module

    rec, p = loaded
    users = np.repeat(np.arange(100, 106), 8)
    books = np.tile(p["book_ids"], 6)
    whole = rec.predict_stars(users, books)
    scores, _ = rec.score_users(np.arange(6))
    monkeypatch.setattr(module, "_CELLS_PER_RUN", 8)  # one reader per onnx run
    np.testing.assert_array_equal(rec.predict_stars(users[::-1], books[::-1]), whole[::-1])
    np.testing.assert_array_equal(rec.score_users(np.arange(6))[0], scores)
