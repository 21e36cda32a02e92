from __future__ import annotations

import pandas as pd

from training.data import encode, fingerprint, normalise
from training.split import stratified_split


def test_split_is_per_user_quarter_and_deterministic(ratings) -> None:
    train, test = stratified_split(ratings, 0.25, seed=42)
    assert len(train) + len(test) == len(ratings)
    merged = pd.concat([train, test])
    assert not merged.duplicated(["user_id", "book_id"]).any()
    per_user = test.groupby("user_id").size()
    assert (per_user == 3).all() and len(per_user) == ratings[
        "user_id"
    ].nunique()  # 12 ratings -> 3 held out
    _again_train, again_test = stratified_split(
        ratings.sample(frac=1.0, random_state=5), 0.25, seed=42
    )
    pd.testing.assert_frame_equal(test, again_test)  # row order of the input does not matter
    _other_train, other_test = stratified_split(ratings, 0.25, seed=7)
    assert not other_test.equals(test)


def test_users_with_fewer_than_four_ratings_stay_in_training() -> None:
    frame = pd.DataFrame(
        {
            "user_id": [1, 1, 1, 2, 2, 2, 2],
            "book_id": [1, 2, 3, 1, 2, 3, 4],
            "stars": [4.0, 3.0, 2.0, 5.0, 4.0, 1.0, 2.0],
        }
    )
    train, test = stratified_split(frame, 0.25, seed=1)
    assert set(test["user_id"]) == {2} and len(test) == 1
    assert (train["user_id"] == 1).sum() == 3


def test_fingerprint_ignores_row_order_and_sees_changes(ratings) -> None:
    assert fingerprint(ratings) == fingerprint(ratings.sample(frac=1.0, random_state=1))
    changed = ratings.copy()
    changed.loc[0, "stars"] = 0.5 if changed.loc[0, "stars"] != 0.5 else 1.0
    assert fingerprint(changed) != fingerprint(ratings)


def test_encode_maps_ids_to_contiguous_indices(ratings) -> None:
    enc = encode(normalise(ratings))
    assert enc.user_ids[enc.users].tolist() == normalise(ratings)["user_id"].tolist()
    assert enc.book_ids[enc.books].tolist() == normalise(ratings)["book_id"].tolist()
    unknown = pd.DataFrame(
        {"user_id": [1, 999], "book_id": [enc.book_ids[0], enc.book_ids[0]], "stars": [3.0, 3.0]}
    )
    u, b, s = enc.encode(unknown)
    assert u.tolist() == [0] and b.tolist() == [0] and s.tolist() == [3.0]
