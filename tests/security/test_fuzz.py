"""Property-based fuzzing of the GraphQL endpoint, through HTTP.

Valid operations come from the schema itself (hypothesis-graphql); invalid ones from
hand-written strategies (garbage text, token soup, one-violation operations, wrong and
extreme variables, odd bodies). Whatever comes in, what goes out is well-formed GraphQL
JSON (`data` and/or `errors`, each error with a message and `extensions.code`), never a
5xx and never a masked internal error.

Size and seed: BOOKREC_FUZZ_EXAMPLES (examples per test, default 100: the CI slice) and
BOOKREC_FUZZ_SEED (default 20261124, so that CI is repeatable; pass another, or "random",
to explore further; the seed is printed, so that any run can be replayed).
    BOOKREC_FUZZ_EXAMPLES=3000 BOOKREC_FUZZ_SEED=1234 pytest tests/security/test_fuzz.py -s
BOOKREC_FUZZ_TALLY_INTERNAL=1 keeps going past masked internal errors (still never past a
5xx or a malformed response) and prints what caused them: for long survey runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import graphql
import httpx
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, note, seed, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema

from app.asgi import create_app
from schema import build_schema
from tests.support.api import make_settings
from tests.support.checks import assert_graphql_shaped, error_codes

EXAMPLES = int(os.environ.get("BOOKREC_FUZZ_EXAMPLES", "100"))
TALLY_INTERNAL = os.environ.get("BOOKREC_FUZZ_TALLY_INTERNAL") == "1"
_SEED_SETTING = os.environ.get("BOOKREC_FUZZ_SEED") or "20261124"
SEED = random.SystemRandom().randrange(2**32) if _SEED_SETTING == "random" else int(_SEED_SETTING)
SDL = str(build_schema())
SCHEMA = graphql.build_schema(SDL)

# Codes an operation may legitimately end with; INTERNAL_SERVER_ERROR is never one of them.
CLIENT_CODES = {
    "BAD_USER_INPUT",
    "NOT_FOUND",
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "CONFLICT",
    "TOO_MANY_REQUESTS",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "BAD_REQUEST",
    "METHOD_NOT_ALLOWED",
    "UNSUPPORTED_MEDIA_TYPE",
    "PAYLOAD_TOO_LARGE",
}
WRITES = [
    "rateBook",
    "deleteRating",
    "likeBook",
    "dislikeBook",
    "clearFeedback",
    "setFavoriteCategories",
]
SIGN_IN = ["register", "login"]


def fuzz_settings(examples: int) -> Callable[[Any], Any]:
    def decorate(fn: Any) -> Any:
        fn = settings(
            max_examples=max(1, examples),
            deadline=None,
            derandomize=False,
            database=None,  # the seed alone replays a run
            suppress_health_check=[
                HealthCheck.too_slow,
                HealthCheck.filter_too_much,
                HealthCheck.data_too_large,
            ],
        )(fn)
        return seed(SEED)(fn)

    return decorate


def announce(name: str, examples: int) -> None:
    print(f"fuzz {name}: seed={SEED} examples={examples}")


# -- strategies -----------------------------------------------------------------------------


def _id_nodes() -> st.SearchStrategy[graphql.ValueNode]:
    """IDs that reach the database (real, missing, edge-case) as well as junk."""
    likely = st.sampled_from(
        [
            "1",
            "2",
            "3",
            "4",
            "5",
            "99",
            "0",
            "-1",
            " 2 ",
            "1e3",
            "0x1",
            "2147483648",
            "9" * 18,
            "9" * 19,
            "٣",
            "³",
            "1\x00",
            "",
        ]
    )
    junk = st.text(max_size=24)
    return st.one_of(
        st.one_of(likely, junk).map(lambda v: graphql.StringValueNode(value=v)),
        st.integers(min_value=-(2**70), max_value=2**70).map(
            lambda v: graphql.IntValueNode(value=str(v))
        ),
    )


CUSTOM_SCALARS = {"ID": _id_nodes()}


def valid_operations(fields: list[str] | None = None) -> st.SearchStrategy[str]:
    return from_schema(SCHEMA, fields=fields, custom_scalars=CUSTOM_SCALARS)


def one_violation_operations() -> st.SearchStrategy[str]:
    """Operations with exactly one schema violation (wrong type, unknown field, ...)."""
    return from_schema(SCHEMA, custom_scalars=CUSTOM_SCALARS, mode=Mode.NEGATIVE)


GRAPHQL_TOKENS = [
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ":",
    "!",
    "$",
    "@",
    "...",
    "=",
    "|",
    "&",
    "query",
    "mutation",
    "subscription",
    "fragment",
    "on",
    "books",
    "book",
    "me",
    "ratings",
    "rateBook",
    "register",
    "login",
    "id",
    "title",
    "edges",
    "node",
    "__schema",
    "__type",
    "__typename",
    "first:",
    "id:",
    '"1"',
    "1",
    "-1",
    "1.5",
    "1e999",
    "NaN",
    "true",
    "null",
    '"""',
    '"\\u0000"',
    '"\\uD800"',
    "#",
    ",",
    "\n",
    "$v: Int",
    "...F",
    "fragment F on Book",
    "@include(if: true)",
    "@skip",
    "@deprecated",
    "query Q",
    "mutation M",
    "{ books { edges { node { id } } } }",
]


def garbage_documents() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=300),
        st.lists(st.sampled_from(GRAPHQL_TOKENS), max_size=80).map(" ".join),
        st.binary(max_size=200).map(lambda b: b.decode("utf-8", "replace")),
        # a valid operation with a random cut, splice or byte change
        st.tuples(valid_operations(), st.integers(0, 400), st.text(max_size=5)).map(
            lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :][t[1] % 7 :]
        ),
    )


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=40),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([2**31, -(2**31) - 1, 2**53 + 1, 10**30, 1e308, -0.0, 5e-324]),
)


def _json_containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)


json_values = st.recursive(json_scalars, _json_containers, max_leaves=12)

# Fixed operations whose variables get anything at all.
VARIABLE_TARGETS = [
    "mutation($b: ID!, $s: Float!) { rateBook(bookId: $b, stars: $s) { stars book { id myRating } } }",
    "mutation($b: ID!) { dislikeBook(bookId: $b) { id myFeedback } }",
    "mutation($c: [ID!]!) { setFavoriteCategories(categoryIds: $c) { categories { id } } }",
    "mutation($u: String!, $p: String!, $c: [ID!]!) { register(username: $u, password: $p, categoryIds: $c) { token } }",
    "query($f: Int!, $a: String, $c: ID, $s: String) { books(first: $f, after: $a, categoryId: $c, search: $s) "
    "{ totalCount edges { cursor node { id averageRating } } pageInfo { endCursor } } }",
    "query($f: Int!, $a: String) { me { ratings(first: $f, after: $a) { totalCount edges { node { stars } } } } }",
    "query($b: ID!, $f: Int!) { similarBooks(bookId: $b, first: $f) { score book { id } } }",
    "query($f: Int!) { recommendations(first: $f) { score source book { id } } }",
    "query($i: ID!) { book(id: $i) { id title myRating } }",
]
VARIABLE_NAMES = ["b", "s", "c", "u", "p", "f", "a", "i", "x"]


def variables_cases() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "query": st.sampled_from(VARIABLE_TARGETS),
            "variables": st.one_of(
                st.dictionaries(st.sampled_from(VARIABLE_NAMES), json_values, max_size=5),
                json_values,
            ),
        },
        optional={"operationName": st.one_of(st.none(), st.text(max_size=8), json_values)},
    )


def raw_bodies() -> st.SearchStrategy[tuple[bytes, str]]:
    """Bodies and content types a client could send."""
    content_types = st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "application/json; charset=latin-1",
            "application/graphql",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/graphql-response+json",
            "",
            "*/*",
        ]
    )
    bodies = st.one_of(
        st.binary(max_size=300),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.dictionaries(
            st.sampled_from(["query", "variables", "operationName", "extensions", "id"]),
            json_values,
            max_size=4,
        ).map(lambda v: json.dumps(v).encode()),
    )
    return st.tuples(bodies, content_types)


# -- the harness ----------------------------------------------------------------------------


class Harness:
    """One app over one database, driven through HTTP from synchronous hypothesis tests."""

    def __init__(self, engine: sa.Engine, database_url: str, **overrides: Any) -> None:
        self.runner = asyncio.Runner()
        app = create_app(make_settings(database_url, **overrides), engine)
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )
        self.production = overrides.get("env") == "production"
        self.requests = 0
        self.statuses: Counter[int] = Counter()
        self.internal = 0
        self.log_tally = _Causes()
        logging.getLogger().addHandler(self.log_tally)

    def post(self, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = {
            **kw.pop("headers", {}),
            **({"Authorization": f"Bearer {token}"} if token else {}),
        }
        self.requests += 1
        return self.runner.run(self.client.post("/graphql", headers=headers, **kw))

    def register(self, username: str) -> str:
        body = self.post(
            json={
                "query": "mutation($u: String!) { register(username: $u, "
                'password: "fuzzing password") { token } }',
                "variables": {"u": username},
            }
        )
        return body.json()["data"]["register"]["token"]  # type: ignore[no-any-return]

    def check(self, response: httpx.Response, *, valid: bool = False) -> dict[str, Any]:
        self.statuses[response.status_code] += 1
        body = assert_graphql_shaped(response)
        codes = error_codes(body)
        if TALLY_INTERNAL and "INTERNAL_SERVER_ERROR" in codes:
            self.internal += 1
            codes = [c for c in codes if c != "INTERNAL_SERVER_ERROR"]
        assert set(codes) <= CLIENT_CODES, (response.request.content[:2000], body)
        if valid:
            # A valid operation is executed: HTTP 200, and never refused as malformed.
            assert response.status_code == 200, response.text
            assert "GRAPHQL_PARSE_FAILED" not in codes or "token" in response.text.lower(), body
        if self.production:
            # Schema names are never suggested ("Did you mean 'books'?"); the lexer's
            # "did you mean to use a double quote" names nothing and may stay.
            assert not SUGGESTION.search(response.text), response.text
        return body

    def close(self) -> None:
        self.runner.run(self.client.aclose())
        self.runner.close()
        logging.getLogger().removeHandler(self.log_tally)

    def summary(self, name: str, started: float) -> str:
        line = (
            f"fuzz {name}: seed={SEED} requests={self.requests} "
            f"statuses={dict(sorted(self.statuses.items()))} "
            f"5xx={sum(n for s, n in self.statuses.items() if s >= 500)} "
            f"internal_errors={self.internal} seconds={time.monotonic() - started:.1f}"
        )
        causes = "".join(
            f"\n    {n} x {cause}" for cause, n in self.log_tally.causes.most_common(10)
        )
        return line + causes


# graphql-core's schema suggestions open a sentence ("Did you mean 'books'?"); the lexer's
# hints are lower-case and name nothing of the schema ("did you mean '0.0'?").
SUGGESTION = re.compile(r"Did you mean ['\"]|Did you mean the ")


class _Causes(logging.Handler):
    """Tallies what the server logged as unexpected (the client sees only a mask)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.causes: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        cause = f"{type(exc).__name__}: {exc}" if exc else record.getMessage()
        self.causes[re.sub(r"\s+", " ", cause)[:160]] += 1


def _harness(
    request: pytest.FixtureRequest, engine: sa.Engine, database_url: str, **overrides: Any
) -> Iterator[Harness]:
    started = time.monotonic()
    h = Harness(engine, database_url, **overrides)
    try:
        yield h
    finally:
        h.close()
        print("\n" + h.summary(request.node.name, started))


@pytest.fixture
def harness(
    request: pytest.FixtureRequest, engine: sa.Engine, database_url: str, seed_catalog: None
) -> Iterator[Harness]:
    yield from _harness(request, engine, database_url)


@pytest.fixture
def prod_harness(
    request: pytest.FixtureRequest, engine: sa.Engine, database_url: str, seed_catalog: None
) -> Iterator[Harness]:
    yield from _harness(request, engine, database_url, env="production")


# -- valid operations -----------------------------------------------------------------------


def test_valid_queries_anonymous_and_signed_in(harness: Harness) -> None:
    announce("valid queries", EXAMPLES)
    token = harness.register("fuzz_reader")

    @fuzz_settings(EXAMPLES)
    @given(
        query=valid_operations(
            ["books", "book", "categories", "recommendations", "similarBooks", "modelInfo", "me"]
        ),
        signed_in=st.booleans(),
    )
    def run(query: str, signed_in: bool) -> None:
        note(query)
        harness.check(harness.post(token if signed_in else None, json={"query": query}), valid=True)

    run()


def test_valid_writes_act_as_the_signed_in_reader(harness: Harness, engine: sa.Engine) -> None:
    announce("valid writes", EXAMPLES)
    token = harness.register("fuzz_writer")
    other = harness.register("fuzz_bystander")
    harness.post(
        other,
        json={
            "query": 'mutation { rateBook(bookId: "1", stars: 3) { stars } '
            'dislikeBook(bookId: "2") { id } }'
        },
    )
    with engine.connect() as conn:
        bystander_rows = conn.execute(
            sa.text(
                "SELECT (SELECT count(*) FROM rating r JOIN app_user u ON u.id = r.user_id WHERE u.username = 'fuzz_bystander'),"
                " (SELECT count(*) FROM feedback f JOIN app_user u ON u.id = f.user_id WHERE u.username = 'fuzz_bystander')"
            )
        ).one()

    @fuzz_settings(EXAMPLES)
    @given(mutation=valid_operations(WRITES), signed_in=st.sampled_from([True, True, True, False]))
    def run(mutation: str, signed_in: bool) -> None:
        note(mutation)
        body = harness.check(
            harness.post(token if signed_in else None, json={"query": mutation}), valid=True
        )
        if not signed_in:  # refused: as anonymous, or (checked first) for bad input
            assert body["data"] is None, body
            codes = set(error_codes(body)) - (
                {"INTERNAL_SERVER_ERROR"} if TALLY_INTERNAL else set()
            )
            assert codes <= {"UNAUTHENTICATED", "BAD_USER_INPUT"}, body

    run()
    with engine.connect() as conn:
        after = conn.execute(
            sa.text(
                "SELECT (SELECT count(*) FROM rating r JOIN app_user u ON u.id = r.user_id WHERE u.username = 'fuzz_bystander'),"
                " (SELECT count(*) FROM feedback f JOIN app_user u ON u.id = f.user_id WHERE u.username = 'fuzz_bystander')"
            )
        ).one()
    assert tuple(after) == tuple(bystander_rows)  # nothing the writer did touched the bystander


def test_valid_sign_in_operations(harness: Harness) -> None:
    """register/login hash with Argon2 (slow): a tenth of the examples."""
    n = max(5, EXAMPLES // 10)
    announce("valid sign-in", n)

    @fuzz_settings(n)
    @given(mutation=valid_operations(SIGN_IN))
    def run(mutation: str) -> None:
        note(mutation)
        harness.check(harness.post(json={"query": mutation}), valid=True)

    run()


# -- invalid operations (production mode: no suggestions may leak) ---------------------------


def test_operations_with_one_violation(prod_harness: Harness) -> None:
    announce("one-violation operations", EXAMPLES)
    token = prod_harness.register("fuzz_negative")

    @fuzz_settings(EXAMPLES)
    @given(query=one_violation_operations(), signed_in=st.booleans())
    def run(query: str, signed_in: bool) -> None:
        note(query)
        body = prod_harness.check(
            prod_harness.post(token if signed_in else None, json={"query": query})
        )
        assert body.get("errors"), body

    run()


def test_garbage_documents(prod_harness: Harness) -> None:
    announce("garbage documents", EXAMPLES)
    token = prod_harness.register("fuzz_garbage")

    @fuzz_settings(EXAMPLES)
    @given(document=garbage_documents(), signed_in=st.booleans())
    def run(document: str, signed_in: bool) -> None:
        note(repr(document))
        prod_harness.check(
            prod_harness.post(token if signed_in else None, json={"query": document})
        )

    run()


def test_wrong_and_extreme_variables(prod_harness: Harness) -> None:
    announce("variables", EXAMPLES)
    token = prod_harness.register("fuzz_variables")

    @fuzz_settings(EXAMPLES)
    @given(payload=variables_cases(), signed_in=st.booleans())
    def run(payload: dict[str, Any], signed_in: bool) -> None:
        # allow_nan: NaN and Infinity reach the server as Python's json would send them
        content = json.dumps(payload, allow_nan=True).encode()
        note(content.decode())
        response = prod_harness.post(
            token if signed_in else None,
            content=content,
            headers={"content-type": "application/json"},
        )
        body = prod_harness.check(response)
        values = payload["variables"] if isinstance(payload["variables"], dict) else {}
        if any(isinstance(v, float) and not math.isfinite(v) for v in values.values()):
            assert body.get("errors"), body  # NaN/inf are never accepted as a Float

    run()


def test_raw_bodies_and_content_types(prod_harness: Harness) -> None:
    announce("raw bodies", EXAMPLES)

    @fuzz_settings(EXAMPLES)
    @given(case=raw_bodies())
    def run(case: tuple[bytes, str]) -> None:
        body, content_type = case
        note(f"{content_type!r} {body!r}")
        prod_harness.check(prod_harness.post(content=body, headers={"content-type": content_type}))

    run()
