"""GraphQL over HTTP's response media types: application/json as it always was, and
application/graphql-response+json (status codes that say what happened) when asked for."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.media_types import GRAPHQL_RESPONSE_JSON, JSON, response_media_type
from tests.support.api import Api
from tests.support.checks import assert_graphql_shaped, error_codes


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("", JSON),
        ("application/json", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        ("text/html", JSON),  # nothing we serve: the legacy type, as before
        (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
        ("Application/GraphQL-Response+JSON; charset=utf-8", GRAPHQL_RESPONSE_JSON),
        # what the spec tells clients to send
        (f"{GRAPHQL_RESPONSE_JSON}, application/json;q=0.9", GRAPHQL_RESPONSE_JSON),
        (f"application/json, {GRAPHQL_RESPONSE_JSON}", GRAPHQL_RESPONSE_JSON),  # equal: new
        (f"application/json, {GRAPHQL_RESPONSE_JSON};q=0.5", JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=0, */*", JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=oops", JSON),
        (f"*/*;q=0.1, {GRAPHQL_RESPONSE_JSON}", GRAPHQL_RESPONSE_JSON),
    ],
)
def test_response_media_type(accept: str | None, expected: str) -> None:
    assert response_media_type(accept) == expected


NEW = {"accept": GRAPHQL_RESPONSE_JSON}
COERCION = {"query": "query($id: ID!) { book(id: $id) { id } }", "variables": {"id": None}}
# Failures before execution: (name, request body, error code)
REQUEST_ERRORS = [
    ("parse", {"query": "{"}, "GRAPHQL_PARSE_FAILED"),
    ("validation", {"query": "{ noSuchField }"}, "GRAPHQL_VALIDATION_FAILED"),
    ("variable coercion", COERCION, "BAD_USER_INPUT"),
    ("missing variable", {"query": COERCION["query"]}, "BAD_USER_INPUT"),
]


async def _post(api: Api, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    return await api.client.post("/graphql", json=body, headers=headers)


def _media_type(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0]


@pytest.mark.parametrize(("name", "body", "code"), REQUEST_ERRORS)
async def test_request_errors_are_400_without_data_when_asked_for(
    api: Api, name: str, body: dict[str, Any], code: str
) -> None:
    response = await _post(api, body, NEW)
    assert response.status_code == 400, (name, response.text)
    assert _media_type(response) == GRAPHQL_RESPONSE_JSON
    assert response.headers["content-type"].endswith("charset=utf-8")
    result = assert_graphql_shaped(response, allow_data=False)
    assert "data" not in result, result
    assert error_codes(result) == [code]


@pytest.mark.parametrize(("name", "body", "code"), REQUEST_ERRORS)
async def test_request_errors_stay_200_with_null_data_in_application_json(
    api: Api, name: str, body: dict[str, Any], code: str
) -> None:
    for headers in ({}, {"accept": "application/json"}, {"accept": "*/*"}):
        response = await _post(api, body, headers)
        assert response.status_code == 200, (name, response.text)
        assert response.headers["content-type"] == "application/json"
        result = response.json()
        assert result["data"] is None and error_codes(result) == [code], result


async def test_success_and_field_errors_are_200_in_both(api: Api) -> None:
    for headers, media_type in ((NEW, GRAPHQL_RESPONSE_JSON), ({}, JSON)):
        ok = await _post(api, {"query": "{ categories { name } }"}, headers)
        assert ok.status_code == 200 and _media_type(ok) == media_type
        assert len(ok.json()["data"]["categories"]) == 3
        field_error = await _post(api, {"query": '{ book(id: "x") { id } }'}, headers)
        assert field_error.status_code == 200 and _media_type(field_error) == media_type
        assert field_error.json()["data"] == {"book": None}
        assert error_codes(field_error.json()) == ["BAD_USER_INPUT"]
        # A mutation that failed is rolled back and answers data: null, still executed: 200.
        failed = await _post(api, {"query": 'mutation { likeBook(bookId: "1") { id } }'}, headers)
        assert failed.status_code == 200 and failed.json()["data"] is None
        assert error_codes(failed.json()) == ["UNAUTHENTICATED"]


async def test_transport_refusals_use_the_media_type_asked_for(api: Api) -> None:
    refusals = [
        (415, await api.client.post("/graphql", content=b"{}", headers={**NEW})),
        (400, await api.client.post("/graphql", content=b"{", headers={**NEW, **JSON_BODY})),
        (400, await _post(api, {"qeury": "{ __typename }"}, NEW)),
        (400, await api.client.get("/graphql", params={"query": "mutation { x }"}, headers=NEW)),
        (405, await api.client.put("/graphql", json={"query": "{ __typename }"}, headers=NEW)),
    ]
    for status, response in refusals:
        assert response.status_code == status, response.text
        assert _media_type(response) == GRAPHQL_RESPONSE_JSON
        assert "data" not in assert_graphql_shaped(response, allow_data=False)


JSON_BODY = {"content-type": "application/json"}


async def test_responses_vary_on_accept(api: Api) -> None:
    for headers in ({}, NEW):
        response = await _post(api, {"query": "{ __typename }"}, headers)
        assert response.headers["vary"] == "Accept"


async def test_graphiql_is_still_served_to_browsers(api: Api) -> None:
    page = await api.client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
