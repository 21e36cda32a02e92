"""HTTP-level behaviour: malformed requests, limits, production mode, health."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa

from app.asgi import create_app
from tests.support.api import Api, make_settings
from tests.support.checks import assert_graphql_shaped, error_codes


async def test_malformed_requests_are_json_errors_not_500(api: Api) -> None:
    c = api.client
    cases = [
        await c.post(
            "/graphql", content=b"{not json", headers={"content-type": "application/json"}
        ),
        await c.post("/graphql", json={"query": "{ books { totalCount }", "variables": {}}),
        await c.post("/graphql", json={"variables": {}}),
        await c.post("/graphql", json={"query": "{ me { id } }", "variables": [1, 2]}),
        await c.post("/graphql", json=[{"query": "{ me { id } }"}, {"query": "{ me { id } }"}]),
        await c.get("/graphql", params={"query": 'mutation { deleteRating(bookId: "1") }'}),
        await c.put("/graphql", json={"query": "{ me { id } }"}),
    ]
    for response in cases:
        assert response.status_code < 500, response.text
        body = response.json()
        assert body["errors"][0]["extensions"]["code"], body


async def test_syntax_error_has_code(api: Api) -> None:
    error = await api.error("{ books { totalCount }")
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


async def test_query_over_get_works(api: Api) -> None:
    response = await api.client.get(
        "/graphql",
        params={"query": "{ categories { name } }"},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 200
    assert len(response.json()["data"]["categories"]) == 3


async def test_depth_alias_and_token_limits(
    engine: sa.Engine, database_url: str, seed_catalog: None
) -> None:
    settings = make_settings(database_url, max_query_depth=4)
    app = create_app(settings, engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        api = Api(c)
        assert "errors" not in await api.gql('{ book(id: "1") { categories { id } } }')
        deep = "{ me { ratings { edges { node { book { id } } } } } }"
        error = await api.error(deep)
        assert "exceeds maximum operation depth" in error["message"]
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        # through fragments too
        via_fragment = (
            "fragment R on User { ratings { edges { node { book { id } } } } } { me { ...R } }"
        )
        assert "depth" in (await api.error(via_fragment))["message"]
        aliases = " ".join(f"a{i}: categories {{ id }}" for i in range(31))
        assert "alias" in (await api.error(f"{{ {aliases} }}"))["message"].lower()
        tokens = "{ " + " ".join("categories { id }" for _ in range(700)) + " }"
        assert "token" in (await api.error(tokens))["message"].lower()


async def test_oversized_body_is_413(api: Api) -> None:
    response = await api.client.post(
        "/graphql", json={"query": "{ me { id } }", "pad": "x" * 200_000}
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_unexpected_errors_are_masked_and_logged(
    api: Api, engine: sa.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE book_category"))
    body = await api.gql('{ book(id: "1") { title categories { name } } }')
    error = body["errors"][0]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert "book_category" not in error["message"]
    assert any("book_category" in (r.exc_text or "") or r.exc_info for r in caplog.records)


async def test_healthz(api: Api) -> None:
    response = await api.client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


async def test_healthz_reports_unreachable_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(f"sqlite:///{tmp_path}/missing-dir/x.db")
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"].startswith("unreachable")


async def test_production_mode_hides_graphiql_introspection_and_suggestions(
    engine: sa.Engine, database_url: str
) -> None:
    settings = make_settings(database_url, env="production")
    app = create_app(settings, engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        ide = await c.get("/graphql", headers={"accept": "text/html"})
        assert "graphiql" not in ide.text.lower()
        introspection = (
            await c.post("/graphql", json={"query": "{ __schema { types { name } } }"})
        ).json()
        assert introspection["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        typo = (await c.post("/graphql", json={"query": "{ boks { id } }"})).json()
        assert "Did you mean" not in typo["errors"][0]["message"]


async def test_development_mode_serves_graphiql(api: Api) -> None:
    page = await api.client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


# -- operation selection ------------------------------------------------------------------

TWO_OPERATIONS = "query A { categories { name } } query B { books { totalCount } }"


@pytest.mark.parametrize("accept", ["application/json", "application/graphql-response+json"])
async def test_several_operations_need_an_operation_name(api: Api, accept: str) -> None:
    headers = {"accept": accept}
    response = await api.client.post("/graphql", json={"query": TWO_OPERATIONS}, headers=headers)
    assert response.status_code == 400, response.text
    body = assert_graphql_shaped(response, allow_data=False)
    assert error_codes(body) == ["BAD_REQUEST"]
    assert "operationName" in body["errors"][0]["message"]
    named = await api.client.post(
        "/graphql", json={"query": TWO_OPERATIONS, "operationName": "B"}, headers=headers
    )
    assert named.status_code == 200 and named.json() == {"data": {"books": {"totalCount": 5}}}


@pytest.mark.parametrize("accept", ["application/json", "application/graphql-response+json"])
async def test_an_unknown_operation_name_is_bad_request(api: Api, accept: str) -> None:
    for query in ("query A { __typename }", TWO_OPERATIONS):
        response = await api.client.post(
            "/graphql", json={"query": query, "operationName": "Nope"}, headers={"accept": accept}
        )
        assert response.status_code == 400, response.text
        body = assert_graphql_shaped(response, allow_data=False)
        assert error_codes(body) == ["BAD_REQUEST"] and "Nope" in body["errors"][0]["message"]


async def test_one_operation_runs_without_an_operation_name(api: Api) -> None:
    for query in ("{ __typename }", "query Only { __typename }"):
        assert await api.ok(query) == {"__typename": "Query"}


# -- content types --------------------------------------------------------------------------

UNSUPPORTED_BODIES = {
    "text/plain": ("text/plain", b'{"query": "{ __typename }"}'),
    "text/plain, charset": ("text/plain; charset=utf-8", b'{"query": "{ __typename }"}'),
    "form": ("application/x-www-form-urlencoded", b"query=%7B__typename%7D"),
    "multipart": ("multipart/form-data; boundary=x", b'--x\r\n\r\n{"query": "{ a }"}\r\n--x--'),
    "application/graphql": ("application/graphql", b"{ __typename }"),
    "xml": ("application/xml", b"<q/>"),
    "response type as a request": ("application/graphql-response+json", b'{"query": "{ a }"}'),
    "json look-alike": ("application/jsonx", b'{"query": "{ __typename }"}'),
    "none": ("", b'{"query": "{ __typename }"}'),
}


@pytest.mark.parametrize("name", UNSUPPORTED_BODIES)
async def test_unsupported_content_types_are_415(api: Api, name: str) -> None:
    content_type, body = UNSUPPORTED_BODIES[name]
    headers = {"content-type": content_type} if content_type else {}
    response = await api.client.post("/graphql", content=body, headers=headers)
    assert response.status_code == 415, response.text
    assert error_codes(assert_graphql_shaped(response, allow_data=False)) == [
        "UNSUPPORTED_MEDIA_TYPE"
    ]


async def test_json_with_a_charset_is_accepted(api: Api) -> None:
    response = await api.client.post(
        "/graphql",
        content=b'{"query": "{ __typename }"}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200 and response.json() == {"data": {"__typename": "Query"}}
