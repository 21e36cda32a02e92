"""The GraphQL surface under abuse: every refusal is a clear, GraphQL-shaped JSON error with
`extensions.code` (never a 500), and nothing is written.

Each case carries writes (a `register`, a `rateBook` as a signed-in reader) so that "nothing
was written" is a real claim, checked by counting rows before and after."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.support.api import Api, api_for
from tests.support.checks import assert_graphql_shaped, error_codes, row_counts


def writes(n: int = 1, name: str = "intruder") -> str:
    """A mutation body with `n` aliased writes: a register, then rateBooks."""
    fields = [f'r0: register(username: "{name}", password: "long enough pw") {{ token }}']
    fields += [f'w{i}: rateBook(bookId: "1", stars: 4) {{ stars }}' for i in range(1, n)]
    return " ".join(fields)


def refused(response: httpx.Response, *codes: str) -> dict[str, Any]:
    """Refused as a whole: no data, errors only, all with one of these codes."""
    body = assert_graphql_shaped(response, allow_data=False)
    assert set(error_codes(body)) <= set(codes), body
    return body


@pytest.fixture
async def reader(api: Api) -> str:
    """A signed-in reader, so that refused writes would have had someone to act as."""
    return await api.register("holder")


# -- limits: depth, aliases, recursion, size ------------------------------------------------


CONTAINERS = ["me", "ratings", "edges", "node", "book", "categories"]
LEAVES = {1: "id", 2: "totalCount", 3: "cursor", 4: "stars", 5: "id", 6: "id"}


def query_of_depth(depth: int) -> str:
    """Root fields are depth 0: me(0) ratings(1) edges(2) node(3) book(4) categories(5) id(6)."""
    return "{ " + " { ".join(CONTAINERS[:depth]) + " { " + LEAVES[depth] + " }" * depth + " }"


@pytest.mark.parametrize("limit", [2, 3, 5])
async def test_one_level_past_the_depth_limit_is_refused_and_writes_nothing(
    engine: sa.Engine, database_url: str, seed_catalog: None, limit: int
) -> None:
    async with api_for(engine, database_url, max_query_depth=limit) as api:
        token = await api.register("deep")
        before = row_counts(engine)
        at_limit = await api.gql(query_of_depth(limit), token=token)
        assert "errors" not in at_limit, at_limit
        over = query_of_depth(limit + 1)
        body = refused(await api.post(over, token=token), "GRAPHQL_VALIDATION_FAILED")
        assert "depth" in body["errors"][0]["message"]
        # the same through an inline fragment and a named fragment
        inline = "{ ... on Query { " + over[2:-2] + " } }"
        named = "fragment Q on Query { " + over[2:-2] + " } { ...Q }"
        for doc in (inline, named):
            body = refused(await api.post(doc, token=token), "GRAPHQL_VALIDATION_FAILED")
            assert "depth" in body["errors"][0]["message"]
        # a write one level too deep: rateBook(0) { book(1) { categories(2) { id(3) } } }
        if limit == 2:
            deep_write = (
                'mutation { rateBook(bookId: "1", stars: 4) { book { categories { id } } } }'
            )
            refused(await api.post(deep_write, token=token), "GRAPHQL_VALIDATION_FAILED")
        assert row_counts(engine) == before


async def test_alias_floods_are_refused_and_write_nothing(
    engine: sa.Engine, database_url: str, seed_catalog: None
) -> None:
    async with api_for(engine, database_url, max_aliases=10) as api:
        token = await api.register("flooder")
        before = row_counts(engine)
        cases = [
            # inline, one past the limit, all writes
            "mutation { "
            + " ".join(f'a{i}: rateBook(bookId: "1", stars: 4) {{ stars }}' for i in range(11))
            + " }",
            # inside a fragment on Mutation
            "mutation { ...M } fragment M on Mutation { "
            + " ".join(f'a{i}: rateBook(bookId: "1", stars: 4) {{ stars }}' for i in range(11))
            + " }",
            # a small fragment spread many times: each spread counts
            "fragment F on Book { t0: title t1: title t2: title t3: title } "
            '{ a: book(id: "1") { ...F } b: book(id: "2") { ...F } c: book(id: "3") { ...F } }',
            # the same fragment spread repeatedly in one selection
            'fragment F on Book { t0: title t1: title t2: title t3: title } { book(id: "1") { ...F ...F ...F } }',
            # aliases hidden in inline fragments
            "{ "
            + " ".join(f"... on Query {{ c{i}: categories {{ id }} }}" for i in range(11))
            + " }",
        ]
        for query in cases:
            body = refused(await api.post(query, token=token), "GRAPHQL_VALIDATION_FAILED")
            assert "alias" in body["errors"][0]["message"].lower(), (query, body)
        assert row_counts(engine) == before


RECURSIVE_FRAGMENTS = [
    'fragment A on Book { ...B } fragment B on Book { ...A } { book(id: "1") { ...A } }',
    'fragment A on Book { id ...A } { book(id: "1") { ...A } }',
    "fragment A on Mutation { ...B } fragment B on Mutation { ...A "
    + 'rateBook(bookId: "1", stars: 4) { stars } } mutation { ...A }',
    "fragment A on Book { ...B } fragment B on Book { ...C } fragment C on Book { ...A } "
    '{ book(id: "1") { ...A } }',
]


async def test_recursive_fragments_are_refused(api: Api, engine: sa.Engine, reader: str) -> None:
    before = row_counts(engine)
    for document in RECURSIVE_FRAGMENTS:
        body = refused(await api.post(document, token=reader), "GRAPHQL_VALIDATION_FAILED")
        assert "spread fragment" in body["errors"][0]["message"], (document, body)
    assert row_counts(engine) == before


async def test_token_limit_refuses_long_documents_and_writes_nothing(
    api: Api, engine: sa.Engine, reader: str
) -> None:
    before = row_counts(engine)
    # Under the 100 kB body limit, over the 2000-token limit; aliases within their limit.
    padding = " ".join("__typename" for _ in range(2100))
    doc = f'mutation {{ rateBook(bookId: "1", stars: 4) {{ stars }} {padding} }}'
    body = refused(await api.post(doc, token=reader), "GRAPHQL_PARSE_FAILED")
    assert "token" in body["errors"][0]["message"].lower()
    assert row_counts(engine) == before


@pytest.mark.parametrize(
    "document",
    [
        "{ book(id: " + "[" * 990 + '"1"' + "]" * 990 + ") { id } }",
        "{ " + "me { " * 900 + "id" + " }" * 900 + " }",
        "{ book(id: " + "{a: " * 600 + "1" + "}" * 600 + ") { id } }",
    ],
    ids=["nested-lists", "nested-selections", "nested-objects"],
)
async def test_deeply_nested_documents_do_not_crash_the_parser(api: Api, document: str) -> None:
    body = assert_graphql_shaped(await api.post(document), allow_data=False)
    assert error_codes(body)[0] in {"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED"}, body


async def test_bodies_over_the_limit_are_413_json_whether_declared_or_streamed(
    api: Api, engine: sa.Engine, reader: str
) -> None:
    before = row_counts(engine)
    query = "mutation { " + writes(2) + " }"
    declared = await api.client.post(
        "/graphql",
        json={"query": query, "pad": "x" * 150_000},
        headers={"Authorization": f"Bearer {reader}"},
    )

    async def chunks():  # type: ignore[no-untyped-def]  # no content-length: chunked
        yield json.dumps({"query": query, "pad": ""})[:-2].encode()
        for _ in range(20):
            yield b"x" * 10_000
        yield b'"}'

    streamed = await api.client.post(
        "/graphql",
        content=chunks(),
        headers={"content-type": "application/json", "Authorization": f"Bearer {reader}"},
    )
    lying = await api.client.post(
        "/graphql",
        content=json.dumps({"query": query}).encode(),
        headers={"content-type": "application/json", "content-length": "not-a-number"},
    )
    for response in (declared, streamed, lying):
        assert response.status_code == 413, response.text
        assert_graphql_shaped(response, allow_data=False)
        assert error_codes(response.json()) == ["PAYLOAD_TOO_LARGE"]
    assert row_counts(engine) == before


# -- transport: batching, methods, content types ----------------------------------------------


async def test_transport_refusals_are_graphql_shaped_and_write_nothing(
    api: Api, engine: sa.Engine, reader: str
) -> None:
    c = api.client
    auth = {"Authorization": f"Bearer {reader}"}
    mutation = "mutation { " + writes(2) + " }"
    payload = {"query": mutation}
    before = row_counts(engine)
    cases: dict[str, httpx.Response] = {
        "batch of two": await c.post("/graphql", json=[payload, payload], headers=auth),
        "batch of one": await c.post("/graphql", json=[payload], headers=auth),
        "empty batch": await c.post("/graphql", json=[], headers=auth),
        "mutation over GET": await c.get(
            "/graphql", params=payload, headers={**auth, "accept": "application/json"}
        ),
        "mutation over GET, named": await c.get(
            "/graphql",
            params={
                "query": "query Q { __typename } mutation M { " + writes(1, "getter") + " }",
                "operationName": "M",
            },
            headers={**auth, "accept": "application/json"},
        ),
        "text/plain": await c.post(
            "/graphql", content=json.dumps(payload), headers={**auth, "content-type": "text/plain"}
        ),
        "form-encoded": await c.post("/graphql", data=payload, headers=auth),
        "multipart": await c.post(
            "/graphql",
            files={"operations": (None, json.dumps(payload)), "map": (None, "{}")},
            headers=auth,
        ),
        "application/graphql": await c.post(
            "/graphql", content=mutation, headers={**auth, "content-type": "application/graphql"}
        ),
        "unknown type": await c.post(
            "/graphql", content=b"<q/>", headers={**auth, "content-type": "application/xml"}
        ),
        "no content type": await c.post(
            "/graphql", content=json.dumps(payload), headers={**auth, "content-type": ""}
        ),
        "PUT": await c.put("/graphql", json=payload, headers=auth),
        "PATCH": await c.patch("/graphql", json=payload, headers=auth),
        "DELETE": await c.delete("/graphql", headers=auth),
        "bad JSON": await c.post(
            "/graphql",
            content=b'{"query": "mutation {',
            headers={"content-type": "application/json"},
        ),
        "JSON string": await c.post("/graphql", json=mutation, headers=auth),
        "JSON number": await c.post(
            "/graphql", content=b"1e999", headers={"content-type": "application/json"}
        ),
        "JSON true": await c.post("/graphql", json=True, headers=auth),
        "JSON null": await c.post(
            "/graphql", content=b"null", headers={"content-type": "application/json"}
        ),
        "bare NaN": await c.post(
            "/graphql", content=b"NaN", headers={"content-type": "application/json"}
        ),
        "not UTF-8": await c.post(
            "/graphql",
            content=b'{"query": "mutation { \xff\xfe }"}',
            headers={"content-type": "application/json"},
        ),
        "query not a string": await c.post(
            "/graphql", json={"query": ["mutation", "{"]}, headers=auth
        ),
        "variables not an object": await c.post(
            "/graphql", json={**payload, "variables": [1]}, headers=auth
        ),
        "extensions not an object": await c.post(
            "/graphql", json={**payload, "extensions": "x"}, headers=auth
        ),
        "unknown operation name": await c.post(
            "/graphql", json={**payload, "operationName": "Nope"}, headers=auth
        ),
        "no query": await c.post("/graphql", json={"variables": {}}, headers=auth),
    }
    unsupported_media = {
        "text/plain",
        "form-encoded",
        "multipart",
        "application/graphql",
        "unknown type",
        "no content type",
    }
    for name, response in cases.items():
        expected = {415} if name in unsupported_media else {400, 405, 413}
        assert response.status_code in expected, (name, response.status_code, response.text)
        body = assert_graphql_shaped(response, allow_data=False)
        if name in unsupported_media:
            assert error_codes(body) == ["UNSUPPORTED_MEDIA_TYPE"], (name, body)
    assert row_counts(engine) == before


async def test_get_cannot_smuggle_a_mutation_past_the_method_check(
    api: Api, engine: sa.Engine, reader: str
) -> None:
    """The method check and the execution pick the same operation: a GET naming the query
    runs it; a GET naming the mutation is refused; a GET naming neither runs nothing (a
    document of several operations needs an operationName). Nothing is written either way."""
    before = row_counts(engine)
    query_first = "query Q { __typename } mutation M { " + writes(1, "sneaky") + " }"
    mutation_first = "mutation M { " + writes(1, "sneaky") + " } query Q { __typename }"
    headers = {"Authorization": f"Bearer {reader}", "accept": "application/json"}

    async def get(params: dict[str, str]) -> httpx.Response:
        return await api.client.get("/graphql", params=params, headers=headers)

    for doc in (query_first, mutation_first):
        ok = await get({"query": doc, "operationName": "Q"})
        assert ok.status_code == 200 and ok.json() == {"data": {"__typename": "Query"}}, ok.text
        named = await get({"query": doc, "operationName": "M"})
        assert named.status_code in {400, 405}
        assert_graphql_shaped(named, allow_data=False)
    for doc in (query_first, mutation_first):
        unnamed = await get({"query": doc})
        assert unnamed.status_code == 400, unnamed.text
        assert error_codes(assert_graphql_shaped(unnamed, allow_data=False)) == ["BAD_REQUEST"]
    assert row_counts(engine) == before


# -- production mode ----------------------------------------------------------------------------


MISSPELLED = [
    "{ boks { id } }",
    "{ books { edges { nod { id } } } }",
    "{ books(frist: 2) { totalCount } }",
    '{ book(id: "1") { myFeedbak titl } }',
    "query { ...X } fragment X on Quer { __typename }",
    "query($a: Strin) { books(search: $a) { totalCount } }",
    'mutation { rateBok(bookId: "1", stars: 4) { stars } }',
    'mutation { register(usernme: "x", password: "long enough") { token } }',
    'mutation { dislikeBook(bookId: "1") { myFeedbak } }',
    "{ me { ratngs { totalCount } } }",
]
INTROSPECTION = [
    "{ __schema { types { name } } }",
    '{ __type(name: "Book") { fields { name } } }',
    "{ s: __schema { queryType { name } } }",
    "fragment S on Query { __schema { queryType { name } } } { ...S }",
    '{ ... on Query { __type(name: "User") { fields { name } } } }',
    "query IntrospectionQuery { __schema { mutationType { fields { name args { name } } } } }",
]


async def test_production_never_suggests_names(prod_api: Api, engine: sa.Engine) -> None:
    before = row_counts(engine)
    for document in MISSPELLED:
        response = await prod_api.post(document)
        body = assert_graphql_shaped(response, allow_data=False)
        assert set(error_codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}, (document, body)
        assert "did you mean" not in response.text.lower(), response.text
    assert row_counts(engine) == before


async def test_production_refuses_introspection(prod_api: Api) -> None:
    for document in INTROSPECTION:
        response = await prod_api.post(document)
        body = assert_graphql_shaped(response, allow_data=False)
        assert set(error_codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}, (document, body)
        assert "introspection" in body["errors"][0]["message"].lower()
        for leaked in ("rateBook", "myFeedback", "AuthPayload", "RatingConnection"):
            assert leaked not in response.text, (document, response.text)


async def test_production_still_answers_typename_and_real_queries(prod_api: Api) -> None:
    assert await prod_api.ok("{ __typename }") == {"__typename": "Query"}
    data = await prod_api.ok('{ book(id: "1") { __typename title } }')
    assert data == {"book": {"__typename": "Book", "title": "The Hobbit"}}


# -- regressions found by fuzzing (tests/security/test_fuzz.py) --------------------------------


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# Strings that pass `str.isdigit()` but are not plain decimal integers, and integers past
# the database's 32-bit INTEGER keys (PostgreSQL refuses them: "integer out of range").
ODD_IDS = ["³", "²5", "¹", "٣", "9" * 10, "2147483648", "9" * 18]


ODD_ID_OPERATIONS = [
    "query($i: ID!) { book(id: $i) { id } }",
    "query($i: ID!) { similarBooks(bookId: $i) { score } }",
    "query($i: ID!) { books(categoryId: $i) { totalCount } }",
    "mutation($i: ID!) { rateBook(bookId: $i, stars: 4) { stars } }",
    "mutation($i: ID!) { dislikeBook(bookId: $i) { id } }",
    "mutation($i: ID!) { deleteRating(bookId: $i) }",
    "mutation($i: ID!) { setFavoriteCategories(categoryIds: [$i]) { id } }",
    'mutation($i: ID!) { register(username: "oddid", password: "long enough pw", '
    "categoryIds: [$i]) { token } }",
]
FORGED_CURSORS = [
    _cursor("book:³"),
    _cursor("book:" + "9" * 12),
    _cursor("rating:2024-01-01T00:00:00|" + "9" * 12),
    _cursor("rating:2024-01-01T00:00:00|³"),
    _cursor("rating:9999-12-31T23:59:59+14:00|1"),
    _cursor("book:"),
    "!!!",
    "Ym9vazox" * 50,
]
CURSOR_OPERATIONS = [
    "query($a: String) { books(after: $a) { totalCount edges { node { id } } } }",
    "query($a: String) { me { ratings(after: $a) { totalCount edges { node { stars } } } } }",
]
EMPTY_SELECTIONS = [
    "{ books {} }",
    "{A{}}",
    "{A(A:0,A:0){}A{}}",
    'mutation { rateBook(bookId: "1", stars: 4) {} }',
]


async def test_odd_ids_are_bad_input_or_not_found_never_internal_errors(
    api: Api, engine: sa.Engine, reader: str
) -> None:
    failures = []
    for value in ODD_IDS:
        before = row_counts(engine)
        for doc in ODD_ID_OPERATIONS:
            body = assert_graphql_shaped(await api.post(doc, {"i": value}, token=reader))
            if not set(error_codes(body)) <= {"BAD_USER_INPUT", "NOT_FOUND"}:
                failures.append((value, doc, error_codes(body)))
        # "٣" is int("٣") == 3 and may act on book 3; no other value may write anything.
        if value != "٣":
            assert row_counts(engine) == before, value
    assert not failures, "\n".join(map(repr, failures))


async def test_forged_cursors_are_bad_input(api: Api, reader: str) -> None:
    failures = []
    for cursor in FORGED_CURSORS:
        for doc in CURSOR_OPERATIONS:
            body = assert_graphql_shaped(await api.post(doc, {"a": cursor}, token=reader))
            if not set(error_codes(body)) <= {"BAD_USER_INPUT"}:
                failures.append((cursor, doc, error_codes(body)))
    assert not failures, "\n".join(map(repr, failures))


async def test_empty_selection_sets_are_client_errors(
    api: Api, engine: sa.Engine, reader: str
) -> None:
    """graphql-core 3.3 parses `{}`; strawberry's depth limiter then crashed (max() of an
    empty sequence), and its raw message went out without a code."""
    before = row_counts(engine)
    failures = []
    for document in EMPTY_SELECTIONS:
        body = assert_graphql_shaped(await api.post(document, token=reader), allow_data=False)
        codes = set(error_codes(body))
        if not codes <= {"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED"}:
            failures.append((document, body))
        assert "max()" not in json.dumps(body)
    assert row_counts(engine) == before
    assert not failures, "\n".join(map(repr, failures))
