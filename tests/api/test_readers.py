"""Accounts, tokens, ratings and feedback through the API, with their error paths."""

from __future__ import annotations

import time

import jwt
import pytest
import sqlalchemy as sa

from tests.support.api import SECRET, Api

RATE = "mutation($b: ID!, $s: Float!) { rateBook(bookId: $b, stars: $s) { stars createdAt updatedAt book { id myRating } } }"


def count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


async def test_register_login_and_me(api: Api) -> None:
    data = await api.ok(
        'mutation { register(username: "Reader_1", password: "s3cret-pass", categoryIds: ["2", "1"]) '
        "{ token user { id username categories { name } } } }"
    )
    user = data["register"]["user"]
    assert user["username"] == "Reader_1"
    assert [c["name"] for c in user["categories"]] == ["Fantasy", "Mystery"]
    login = await api.ok(
        'mutation { login(username: "reader_1", password: "s3cret-pass") { token user { id } } }'
    )
    assert login["login"]["user"]["id"] == user["id"]
    me = await api.ok("{ me { id username categories { id } } }", token=login["login"]["token"])
    assert me["me"]["id"] == user["id"]
    assert (await api.ok("{ me { id } }"))["me"] is None


async def test_register_errors_change_nothing(api: Api, engine: sa.Engine) -> None:
    await api.register("taken")
    cases = [
        ('mutation { register(username: "TAKEN", password: "long enough") { token } }', "CONFLICT"),
        (
            'mutation { register(username: "ab", password: "long enough") { token } }',
            "BAD_USER_INPUT",
        ),
        (
            'mutation { register(username: "bad name!", password: "long enough") { token } }',
            "BAD_USER_INPUT",
        ),
        (
            'mutation { register(username: "shortpw", password: "short") { token } }',
            "BAD_USER_INPUT",
        ),
        (
            'mutation { register(username: "nocat", password: "long enough", categoryIds: ["99"]) { token } }',
            "NOT_FOUND",
        ),
        (
            'mutation { register(username: "badcat", password: "long enough", categoryIds: ["x"]) { token } }',
            "BAD_USER_INPUT",
        ),
    ]
    for query, code in cases:
        error = await api.error(query)
        assert error["extensions"]["code"] == code, (query, error)
    assert count(engine, "app_user") == 1
    assert count(engine, "user_category") == 0


async def test_login_same_error_for_unknown_user_and_wrong_password(api: Api) -> None:
    await api.register("alice", "right password")
    wrong = await api.error(
        'mutation { login(username: "alice", password: "wrong password") { token } }'
    )
    unknown = await api.error(
        'mutation { login(username: "nobody", password: "wrong password") { token } }'
    )
    assert wrong["message"] == unknown["message"]
    assert wrong["extensions"] == unknown["extensions"] == {"code": "UNAUTHENTICATED"}


async def test_login_throttled_after_repeated_failures(api: Api) -> None:
    await api.register("target", "right password")
    for _ in range(5):
        await api.error('mutation { login(username: "target", password: "nope nope") { token } }')
    error = await api.error(
        'mutation { login(username: "TARGET", password: "right password") { token } }'
    )
    assert error["extensions"]["code"] == "TOO_MANY_REQUESTS"


async def test_login_throttle_holds_for_aliases_in_one_request(api: Api) -> None:
    await api.register("victim", "right password")
    aliases = " ".join(
        f'a{i}: login(username: "victim", password: "guess {i}") {{ token }}' for i in range(12)
    )
    codes: list[str] = []
    for _ in range(6):
        body = await api.gql(f"mutation {{ {aliases} }}")
        assert body["data"] is None
        codes += [e["extensions"]["code"] for e in body["errors"]]
    # Every guess counts: at most five wrong passwords were ever checked.
    assert codes.count("UNAUTHENTICATED") == 5
    assert codes[-1] == "TOO_MANY_REQUESTS"


async def test_rate_create_update_and_read_back(api: Api, engine: sa.Engine) -> None:
    token = await api.register("rater")
    first = (await api.ok(RATE, {"b": "1", "s": 3.5}, token))["rateBook"]
    assert first["stars"] == 3.5 and first["book"] == {"id": "1", "myRating": 3.5}
    second = (await api.ok(RATE, {"b": "1", "s": 5}, token))["rateBook"]
    assert second["stars"] == 5.0
    assert second["createdAt"] == first["createdAt"]
    assert second["updatedAt"] >= first["updatedAt"]
    assert count(engine, "rating") == 1
    book = await api.ok('{ book(id: "1") { averageRating ratingsCount myRating } }', token=token)
    assert book["book"] == {"averageRating": 5.0, "ratingsCount": 1, "myRating": 5.0}


async def test_rate_bad_input_changes_nothing(api: Api, engine: sa.Engine) -> None:
    token = await api.register("careful")
    for stars in (0, 0.25, 5.5, -1, 3.3, 1e308):
        error = await api.error(RATE, {"b": "1", "s": stars}, token)
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (stars, error)
    assert (await api.error(RATE, {"b": "999", "s": 3}, token))["extensions"]["code"] == "NOT_FOUND"
    assert (await api.error(RATE, {"b": "one", "s": 3}, token))["extensions"][
        "code"
    ] == "BAD_USER_INPUT"
    assert (await api.error(RATE, {"b": "1", "s": "3"}, token))["extensions"][
        "code"
    ] == "BAD_USER_INPUT"
    assert (await api.error(RATE, {"b": "1", "s": 3}))["extensions"]["code"] == "UNAUTHENTICATED"
    assert count(engine, "rating") == 0


async def test_mutation_failing_half_way_keeps_nothing(api: Api, engine: sa.Engine) -> None:
    token = await api.register("halfway")
    body = await api.gql(
        'mutation { a: rateBook(bookId: "1", stars: 4) { stars } b: rateBook(bookId: "999", stars: 4) { stars } }',
        token=token,
    )
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert count(engine, "rating") == 0


async def test_delete_rating(api: Api) -> None:
    token = await api.register("deleter")
    await api.ok(RATE, {"b": "2", "s": 2}, token)
    assert (await api.ok('mutation { deleteRating(bookId: "2") }', token=token))[
        "deleteRating"
    ] is True
    assert (await api.ok('mutation { deleteRating(bookId: "2") }', token=token))[
        "deleteRating"
    ] is False
    error = await api.error('mutation { deleteRating(bookId: "999") }', token=token)
    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_like_dislike_clear_keep_like_count(api: Api) -> None:
    alice, bob = await api.register("alice"), await api.register("bob")
    q = 'mutation { %s(bookId: "1") { likeCount myFeedback } }'
    assert (await api.ok(q % "likeBook", token=alice))["likeBook"] == {
        "likeCount": 1,
        "myFeedback": "LIKED",
    }
    assert (await api.ok(q % "likeBook", token=alice))["likeBook"]["likeCount"] == 1  # idempotent
    assert (await api.ok(q % "likeBook", token=bob))["likeBook"]["likeCount"] == 2
    assert (await api.ok(q % "dislikeBook", token=alice))["dislikeBook"] == {
        "likeCount": 1,
        "myFeedback": "DISLIKED",
    }
    assert (await api.ok(q % "clearFeedback", token=alice))["clearFeedback"] == {
        "likeCount": 1,
        "myFeedback": None,
    }
    assert (await api.ok(q % "clearFeedback", token=bob))["clearFeedback"] == {
        "likeCount": 0,
        "myFeedback": None,
    }
    error = await api.error('mutation { likeBook(bookId: "404") { id } }', token=bob)
    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_my_ratings_page(api: Api) -> None:
    token = await api.register("pager")
    for book in ("1", "2", "3"):
        await api.ok(RATE, {"b": book, "s": 4}, token)
    q = "query($a: String) { me { ratings(first: 2, after: $a) { totalCount edges { cursor node { stars book { id } } } pageInfo { hasNextPage endCursor } } } }"
    page = (await api.ok(q, {"a": None}, token))["me"]["ratings"]
    assert page["totalCount"] == 3 and page["pageInfo"]["hasNextPage"] is True
    rest = (await api.ok(q, {"a": page["pageInfo"]["endCursor"]}, token))["me"]["ratings"]
    ids = [e["node"]["book"]["id"] for e in page["edges"] + rest["edges"]]
    assert sorted(ids) == ["1", "2", "3"] and rest["pageInfo"]["hasNextPage"] is False
    bad = await api.error('{ me { ratings(after: "Ym9vazox") { totalCount } } }', token=token)
    assert bad["extensions"]["code"] == "BAD_USER_INPUT"


async def test_set_favorite_categories(api: Api, engine: sa.Engine) -> None:
    token = await api.register("chooser", categories=["1"])
    data = await api.ok(
        'mutation { setFavoriteCategories(categoryIds: ["3", "2"]) { categories { name } } }',
        token=token,
    )
    assert [c["name"] for c in data["setFavoriteCategories"]["categories"]] == [
        "Mystery",
        "Science Fiction",
    ]
    error = await api.error(
        'mutation { setFavoriteCategories(categoryIds: ["1", "77"]) { id } }', token=token
    )
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert count(engine, "user_category") == 2
    cleared = await api.ok(
        "mutation { setFavoriteCategories(categoryIds: []) { categories { id } } }", token=token
    )
    assert cleared["setFavoriteCategories"]["categories"] == []


async def test_readers_are_isolated(api: Api) -> None:
    alice, bob = await api.register("alice"), await api.register("bob")
    await api.ok(RATE, {"b": "1", "s": 5}, alice)
    await api.ok('mutation { dislikeBook(bookId: "2") { id } }', token=alice)
    seen_by_bob = await api.ok(
        '{ a: book(id: "1") { myRating } b: book(id: "2") { myFeedback } me { ratings { totalCount } } }',
        token=bob,
    )
    assert seen_by_bob == {
        "a": {"myRating": None},
        "b": {"myFeedback": None},
        "me": {"ratings": {"totalCount": 0}},
    }


async def test_forged_expired_and_malformed_tokens(api: Api) -> None:
    token = await api.register("holder")
    user_id = jwt.decode(token, SECRET, algorithms=["HS256"], issuer="bookrec")["sub"]
    now = int(time.time())
    claims = {"sub": user_id, "iss": "bookrec", "iat": now, "exp": now + 60}
    forged = jwt.encode(claims, "another-secret-of-sufficient-length-000", algorithm="HS256")
    expired = jwt.encode({**claims, "iat": now - 120, "exp": now - 60}, SECRET, algorithm="HS256")
    none_alg = jwt.encode(claims, None, algorithm="none")
    wrong_issuer = jwt.encode({**claims, "iss": "other"}, SECRET, algorithm="HS256")
    for bad in (forged, expired, none_alg, wrong_issuer, token[:-5], "garbage", token + "x"):
        error = await api.error('mutation { rateBook(bookId: "1", stars: 3) { stars } }', token=bad)
        assert error["extensions"]["code"] == "UNAUTHENTICATED", bad
    response = await api.client.post(
        "/graphql", json={"query": "{ me { id } }"}, headers={"Authorization": f"Basic {token}"}
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_token_seen_before_still_expires(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Verified tokens are remembered per process; the memory must not outlive the expiry."""
    token = await api.register("shortlived")
    assert (await api.ok("{ me { username } }", token=token))["me"]["username"] == "shortlived"
    expires = jwt.decode(token, SECRET, algorithms=["HS256"], issuer="bookrec")["exp"]
    later = float(expires + 1)
    monkeypatch.setattr(time, "time", lambda: later)
    error = await api.error("{ me { username } }", token=token)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "expired" in error["message"]
