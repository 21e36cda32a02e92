"""Checks the security and fuzz suites share: a response is GraphQL-shaped, nothing was written."""

from __future__ import annotations

import json
from typing import Any

import httpx
import sqlalchemy as sa

# Every table a request could write to (the catalog tables are seeded by the tests).
WRITABLE_TABLES = ("app_user", "user_category", "rating", "feedback")
RESPONSE_MEDIA_TYPES = ("application/json", "application/graphql-response+json")


def row_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table: int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
            for table in WRITABLE_TABLES
        }


def assert_graphql_shaped(response: httpx.Response, *, allow_data: bool = True) -> dict[str, Any]:
    """A well-formed GraphQL response: JSON object (either GraphQL-over-HTTP media type),
    never a 5xx; `data` and/or `errors`; every error with a message and an `extensions.code`.
    Returns the body."""
    assert response.status_code < 500, (response.status_code, response.text[:500])
    assert response.headers.get("content-type", "").startswith(RESPONSE_MEDIA_TYPES), (
        response.headers.get("content-type"),
        response.text[:300],
    )
    body = json.loads(response.text)  # strict: refuses nothing Python accepts, checked below
    assert isinstance(body, dict), body
    assert "data" in body or "errors" in body, body
    assert set(body) <= {"data", "errors", "extensions"}, body
    for error in body.get("errors") or []:
        assert isinstance(error.get("message"), str) and error["message"], error
        code = (error.get("extensions") or {}).get("code")
        assert isinstance(code, str) and code, error
    if not allow_data:
        assert body.get("data") is None, body
        assert body.get("errors"), body
    # NaN/Infinity are not JSON: a response must never carry them.
    assert "NaN" not in _bare_tokens(response.text) and "Infinity" not in _bare_tokens(
        response.text
    )
    return body  # type: ignore[no-any-return]


def _bare_tokens(text: str) -> set[str]:
    """Names that appear outside strings in a JSON text (NaN, Infinity would)."""
    found: set[str] = set()

    def reject(name: str) -> float:
        found.add(name.lstrip("-"))
        return 0.0

    json.loads(text, parse_constant=reject)
    return found


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]
