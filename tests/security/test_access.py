"""Access: a reader sees and changes only their own ratings and feedback; every bad token
is refused with UNAUTHENTICATED; repeated failed sign-ins are throttled however they come."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
import sqlalchemy as sa

from app.asgi import build_services, create_app
from tests.support.api import SECRET, Api, CountingPasswords, client_for, make_settings
from tests.support.checks import assert_graphql_shaped, error_codes, row_counts

RATE = "mutation($b: ID!, $s: Float!) { rateBook(bookId: $b, stars: $s) { stars book { id } } }"
MY_RATINGS = "{ me { id ratings(first: 50) { totalCount edges { node { stars book { id } } } } } }"
ALL_BOOKS_MINE = "{ books(first: 50) { edges { node { id myRating myFeedback } } } }"


def user_id_of(token: str) -> str:
    return str(jwt.decode(token, SECRET, algorithms=["HS256"], issuer="bookrec")["sub"])


def rows(engine: sa.Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


@pytest.fixture
async def readers(api: Api) -> dict[str, str]:
    """alice rated 1 (5 stars) and 2 (2 stars) and disliked 3; bob rated 3 and liked 4."""
    alice, bob = (
        await api.register("alice", "alice password"),
        await api.register("bob", "bob password"),
    )
    await api.ok(RATE, {"b": "1", "s": 5}, alice)
    await api.ok(RATE, {"b": "2", "s": 2}, alice)
    await api.ok('mutation { dislikeBook(bookId: "3") { id } }', token=alice)
    await api.ok(RATE, {"b": "3", "s": 4}, bob)
    await api.ok('mutation { likeBook(bookId: "4") { id } }', token=bob)
    return {"alice": alice, "bob": bob}


# -- reading ------------------------------------------------------------------------------------


async def test_me_ratings_and_my_fields_show_only_the_token_holders_own(
    api: Api, readers: dict[str, str]
) -> None:
    alice, bob = readers["alice"], readers["bob"]
    mine = await api.ok(MY_RATINGS, token=alice)
    assert mine["me"]["id"] == user_id_of(alice)
    assert mine["me"]["ratings"]["totalCount"] == 2
    assert sorted(e["node"]["book"]["id"] for e in mine["me"]["ratings"]["edges"]) == ["1", "2"]
    theirs = await api.ok(MY_RATINGS, token=bob)
    assert [e["node"]["book"]["id"] for e in theirs["me"]["ratings"]["edges"]] == ["3"]

    def my_fields(data: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
        return {
            e["node"]["id"]: (e["node"]["myRating"], e["node"]["myFeedback"])
            for e in data["books"]["edges"]
        }

    assert my_fields(await api.ok(ALL_BOOKS_MINE, token=alice)) == {
        "1": (5.0, None),
        "2": (2.0, None),
        "3": (None, "DISLIKED"),
        "4": (None, None),
        "5": (None, None),
    }
    assert my_fields(await api.ok(ALL_BOOKS_MINE, token=bob)) == {
        "1": (None, None),
        "2": (None, None),
        "3": (4.0, None),
        "4": (None, "LIKED"),
        "5": (None, None),
    }
    assert my_fields(await api.ok(ALL_BOOKS_MINE)) == {str(i): (None, None) for i in range(1, 6)}


async def test_concurrent_readers_never_see_each_others_fields(
    api: Api, readers: dict[str, str]
) -> None:
    """Dataloaders and contexts are per request: interleaved requests do not mix viewers."""
    tokens = [readers["alice"], readers["bob"], None] * 10
    bodies = await asyncio.gather(
        *(api.ok(ALL_BOOKS_MINE + " " * i, token=t) for i, t in enumerate(tokens))
    )
    expected = {
        readers["alice"]: {"1": 5.0, "2": 2.0, "3": None, "4": None, "5": None},
        readers["bob"]: {"1": None, "2": None, "3": 4.0, "4": None, "5": None},
        None: dict.fromkeys("12345"),
    }
    for token, body in zip(tokens, bodies, strict=True):
        got = {e["node"]["id"]: e["node"]["myRating"] for e in body["books"]["edges"]}
        assert got == expected[token]


async def test_another_readers_ratings_are_forbidden_where_their_user_is_reachable(
    api: Api, engine: sa.Engine, readers: dict[str, str]
) -> None:
    """The only ways to hold another reader's User object: signing in as them (login returns
    the user) while sending someone else's token, or anonymously. Their ratings stay closed."""
    before = row_counts(engine)
    login_alice = 'mutation { login(username: "alice", password: "alice password") { user { id ratings { totalCount edges { node { stars } } } } } }'
    for token in (readers["bob"], None):
        response = await api.post(login_alice, token=token)
        body = assert_graphql_shaped(response, allow_data=False)
        assert error_codes(body) == ["FORBIDDEN"], body
        assert '"stars"' not in response.text
    # A new account's user seen through someone else's token: forbidden too, and the whole
    # mutation (with the account) is rolled back.
    register = 'mutation { register(username: "carol", password: "carol password") { user { ratings { totalCount } } } }'
    body = assert_graphql_shaped(await api.post(register, token=readers["alice"]), allow_data=False)
    assert error_codes(body) == ["FORBIDDEN"]
    assert row_counts(engine) == before


# -- writing ------------------------------------------------------------------------------------


async def test_writes_act_as_the_token_holder_whatever_else_the_request_says(
    api: Api, engine: sa.Engine, readers: dict[str, str]
) -> None:
    alice, bob = readers["alice"], readers["bob"]
    alice_id, bob_id = user_id_of(alice), user_id_of(bob)
    before = rows(
        engine, "SELECT user_id, book_id, half_stars FROM rating ORDER BY user_id, book_id"
    )
    feedback_before = rows(
        engine, "SELECT user_id, book_id, kind FROM feedback ORDER BY user_id, book_id"
    )
    # user ids in arguments the schema does not have: refused at validation, nothing runs
    for doc in (
        f'mutation {{ rateBook(bookId: "5", stars: 1, userId: "{alice_id}") {{ stars }} }}',
        f'mutation {{ dislikeBook(bookId: "5", userId: "{alice_id}") {{ id }} }}',
        f'mutation {{ deleteRating(bookId: "1", userId: "{alice_id}") }}',
        f'mutation {{ setFavoriteCategories(categoryIds: ["1"], userId: "{alice_id}") {{ id }} }}',
        f'{{ me(id: "{alice_id}") {{ ratings {{ totalCount }} }} }}',
    ):
        body = assert_graphql_shaped(await api.post(doc, token=bob), allow_data=False)
        assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"], body
    # ...and in places the server ignores: extra variables, extensions, headers, book ids
    # that are really user ids. Each write lands on bob, or nowhere.
    response = await api.client.post(
        "/graphql",
        json={
            "query": 'mutation($b: ID!) { rateBook(bookId: $b, stars: 1) { stars } d: deleteRating(bookId: "1") }',
            "variables": {"b": "5", "userId": alice_id, "viewer": alice_id, "sub": alice_id},
            "extensions": {"userId": alice_id, "sub": alice_id},
        },
        headers={
            "Authorization": f"Bearer {bob}",
            "X-User-Id": alice_id,
            "X-Forwarded-User": "alice",
            "X-Remote-User": "alice",
            "Cookie": f"user_id={alice_id}; session={alice}",
        },
    )
    assert response.status_code == 200 and "errors" not in response.json(), response.text
    assert response.json()["data"]["d"] is False  # bob had not rated book 1; alice's stays
    # two Authorization headers: the first one counts, or the request is refused; never alice
    twice = await api.client.post(
        "/graphql",
        json={"query": 'mutation { dislikeBook(bookId: "1") { id } }'},
        headers=[("Authorization", f"Bearer {bob}"), ("Authorization", f"Bearer {alice}")],
    )
    assert_graphql_shaped(twice)
    after = rows(
        engine, "SELECT user_id, book_id, half_stars FROM rating ORDER BY user_id, book_id"
    )
    assert [r for r in after if str(r[0]) == alice_id] == [
        r for r in before if str(r[0]) == alice_id
    ]
    assert (int(bob_id), 5, 2) in after
    feedback_after = rows(
        engine, "SELECT user_id, book_id, kind FROM feedback ORDER BY user_id, book_id"
    )
    assert [r for r in feedback_after if str(r[0]) == alice_id] == [
        r for r in feedback_before if str(r[0]) == alice_id
    ]


# -- tokens -------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_signed(
    header: dict[str, Any], claims: dict[str, Any], key: bytes, digest: Any = hashlib.sha256
) -> str:
    """A JWT signed by hand, for headers PyJWT would not produce (alg confusion)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{_b64(signature)}"


def bad_tokens(victim_id: str) -> dict[str, str]:
    """Tokens that claim to be the victim and must all be refused."""
    now = int(time.time())
    claims = {"sub": victim_id, "iss": "bookrec", "iat": now, "exp": now + 600}
    key = SECRET.encode()
    rsa_public_pem = (
        "-----BEGIN PUBLIC KEY-----\nMFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf\n"
        "9Cnzj4p4WGeKLs1Pt8QuKUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ==\n-----END PUBLIC KEY-----\n"
    )
    return {
        "wrong key": jwt.encode(
            claims, "another-secret-of-sufficient-length-000", algorithm="HS256"
        ),
        "expired": jwt.encode(
            {**claims, "iat": now - 1200, "exp": now - 600}, SECRET, algorithm="HS256"
        ),
        "expired long ago": jwt.encode({**claims, "iat": 0, "exp": 1}, SECRET, algorithm="HS256"),
        "alg none": jwt.encode(claims, None, algorithm="none"),
        "alg none, signature kept": jwt.encode(claims, None, algorithm="none") + _b64(b"x" * 32),
        "alg NONE hand-made": _b64(json.dumps({"alg": "NONE", "typ": "JWT"}).encode())
        + "."
        + _b64(json.dumps(claims).encode())
        + ".",
        "HS512, same key": hand_signed({"alg": "HS512", "typ": "JWT"}, claims, key, hashlib.sha512),
        "HS384, same key": hand_signed({"alg": "HS384", "typ": "JWT"}, claims, key, hashlib.sha384),
        "RS256 header, HMAC with the key": hand_signed({"alg": "RS256", "typ": "JWT"}, claims, key),
        "RS256 header, HMAC with a public key": hand_signed(
            {"alg": "RS256", "typ": "JWT"}, claims, rsa_public_pem.encode()
        ),
        "ES256 header": hand_signed({"alg": "ES256", "typ": "JWT"}, claims, key),
        "wrong issuer": jwt.encode({**claims, "iss": "someone-else"}, SECRET, algorithm="HS256"),
        "no issuer": jwt.encode(
            {k: v for k, v in claims.items() if k != "iss"}, SECRET, algorithm="HS256"
        ),
        "no expiry": jwt.encode(
            {k: v for k, v in claims.items() if k != "exp"}, SECRET, algorithm="HS256"
        ),
        "no subject": jwt.encode(
            {k: v for k, v in claims.items() if k != "sub"}, SECRET, algorithm="HS256"
        ),
        "issued in the future": jwt.encode(
            {**claims, "iat": now + 3600, "exp": now + 7200}, SECRET, algorithm="HS256"
        ),
        "not yet valid": jwt.encode({**claims, "nbf": now + 3600}, SECRET, algorithm="HS256"),
        "non-numeric subject": jwt.encode(
            {**claims, "sub": f"{victim_id} or 1=1"}, SECRET, algorithm="HS256"
        ),
        "negative subject": jwt.encode(
            {**claims, "sub": f"-{victim_id}"}, SECRET, algorithm="HS256"
        ),
        "empty": "",
        "garbage": "garbage",
        "three dots": "a.b.c",
    }


async def test_bad_tokens_are_refused_with_unauthenticated(
    api: Api, engine: sa.Engine, readers: dict[str, str]
) -> None:
    alice = readers["alice"]
    victim = user_id_of(alice)
    cases = bad_tokens(victim)
    cases["truncated"] = alice[:-8]
    cases["truncated to two parts"] = alice.rsplit(".", 1)[0]
    cases["signature flipped"] = alice[:-2] + ("A" if alice[-2] != "A" else "B") + alice[-1]
    cases["payload swapped"] = ".".join(
        [
            alice.split(".")[0],
            _b64(json.dumps({"sub": victim, "iss": "bookrec", "iat": 0, "exp": 2**40}).encode()),
            alice.split(".")[2],
        ]
    )
    before = row_counts(engine)
    for name, token in cases.items():
        for doc in (
            'mutation { rateBook(bookId: "5", stars: 1) { stars } }',
            'mutation { dislikeBook(bookId: "5") { id } }',
            "{ me { id ratings { totalCount } } }",
            '{ book(id: "1") { myRating myFeedback } }',
        ):
            response = await api.client.post(
                "/graphql", json={"query": doc}, headers={"Authorization": f"Bearer {token}"}
            )
            body = assert_graphql_shaped(response)
            assert "UNAUTHENTICATED" in error_codes(body), (name, doc, body)
            assert "5.0" not in response.text and "DISLIKED" not in response.text, (
                name,
                response.text,
            )
    assert row_counts(engine) == before


async def test_tokens_of_deleted_accounts_are_refused(
    api: Api, engine: sa.Engine, readers: dict[str, str]
) -> None:
    alice = readers["alice"]
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM app_user WHERE id = :id"), {"id": int(user_id_of(alice))})
    before = row_counts(engine)
    for doc in (
        'mutation { rateBook(bookId: "1", stars: 3) { stars } }',
        'mutation { likeBook(bookId: "1") { id } }',
        'mutation { clearFeedback(bookId: "3") { id } }',
        'mutation { deleteRating(bookId: "1") }',
        'mutation { setFavoriteCategories(categoryIds: ["1"]) { id } }',
    ):
        body = assert_graphql_shaped(await api.post(doc, token=alice), allow_data=False)
        assert error_codes(body) == ["UNAUTHENTICATED"], (doc, body)
    # Reads reveal nothing of the old account (`me` answers null: the account is gone).
    body = assert_graphql_shaped(await api.post(MY_RATINGS, token=alice))
    assert body.get("data") in (None, {"me": None}), body
    assert row_counts(engine) == before
    # A new account that reuses the name does not inherit the old token.
    await api.register("alice", "new alice password")
    me = await api.gql("{ me { id username } }", token=alice)
    assert me.get("data") in (None, {"me": None}), me


# -- throttling ---------------------------------------------------------------------------------


# Long enough to outlast the (slow, Argon2) guesses below on a busy machine.
LOCKOUT = 4.0


@pytest.fixture
async def counted(
    engine: sa.Engine, database_url: str, seed_catalog: None
) -> AsyncIterator[tuple[Api, CountingPasswords]]:
    settings = make_settings(database_url, login_max_failures=3, login_lockout_seconds=LOCKOUT)
    passwords = CountingPasswords()
    services = dataclasses.replace(build_services(settings, engine), passwords=passwords)
    async with client_for(create_app(settings, engine, services)) as client:
        yield Api(client), passwords


async def test_throttle_holds_for_concurrent_requests_fragments_and_name_variants(
    counted: tuple[Api, CountingPasswords],
) -> None:
    """However the guesses arrive (concurrent requests, aliases hidden in a fragment,
    the name in other letter cases), at most `login_max_failures` passwords are checked."""
    api, passwords = counted
    await api.register("victim", "right password")
    names = ["victim", "VICTIM", "Victim", "vIcTiM"]
    login = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }"
    singles = [api.gql(login, {"u": names[i % 4], "p": f"guess {i}"}) for i in range(8)]
    fragment = (
        "mutation { ...G } fragment G on Mutation { "
        + " ".join(
            f'g{i}: login(username: "{names[i % 4]}", password: "guess x{i}") {{ token }}'
            for i in range(8)
        )
        + " }"
    )
    bodies = await asyncio.gather(*singles, api.gql(fragment))
    codes = [c for body in bodies for c in error_codes(body)]
    assert all(body["data"] is None for body in bodies)
    assert codes.count("UNAUTHENTICATED") == 3, codes
    assert set(codes) == {"UNAUTHENTICATED", "TOO_MANY_REQUESTS"}
    assert passwords.verified == 3
    # locked: even the right password is refused without being checked
    locked = await api.error(login, {"u": "victim", "p": "right password"})
    assert locked["extensions"]["code"] == "TOO_MANY_REQUESTS"
    assert locked["extensions"]["retryAfterSeconds"] >= 1
    assert passwords.verified == 3
    # another account is not locked by this one's lockout
    await api.register("bystander", "right password")
    assert (await api.ok(login, {"u": "bystander", "p": "right password"}))["login"]["token"]
    # the lockout ends after its period, and then the right password works
    await asyncio.sleep(LOCKOUT + 0.1)
    assert (await api.ok(login, {"u": "victim", "p": "right password"}))["login"]["token"]
