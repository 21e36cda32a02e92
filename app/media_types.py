"""GraphQL over HTTP's two response media types: which one a request asked for, and the
status code a result gets under `application/graphql-response+json`.

`application/json` is the legacy type: every GraphQL result is 200, whatever its errors
(transport refusals keep their 4xx). `application/graphql-response+json` lets the status
say what happened: a request that failed before execution (a parse, validation or variable
coercion error) is 400 and carries no `data` entry at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

JSON = "application/json"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"


def response_media_type(accept: str | None) -> str:
    """The media type to answer with, from the Accept header.

    No header, `*/*` or `application/*` mean application/json, as the spec asks (a client
    that never heard of the new type must keep getting the old one). When both are accepted
    the higher quality wins, and at equal quality the new type (the spec's preferred one;
    clients list it first). Anything else, however odd, gets application/json: refusing it
    (406) would change what today's clients receive."""
    if not accept:
        return JSON
    best_json = best_graphql = 0.0
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        quality = _quality(params)
        media = media.lower()
        if media == GRAPHQL_RESPONSE_JSON:
            best_graphql = max(best_graphql, quality)
        elif media in (JSON, "*/*", "application/*"):
            best_json = max(best_json, quality)
    return GRAPHQL_RESPONSE_JSON if best_graphql > 0 and best_graphql >= best_json else JSON


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0


def is_request_error(response: Mapping[str, Any]) -> bool:
    """A result that failed before execution: no data, and no error located in the response
    (a field error has a path; parse, validation and variable coercion errors have none)."""
    errors = response.get("errors")
    return (
        response.get("data") is None
        and bool(errors)
        and all(not error.get("path") for error in errors or [])
    )


def graphql_response_status(response: Mapping[str, Any]) -> int:
    """The status of a result that is a request error (see is_request_error): 400 for the
    client's mistake; 500 when the server failed (a masked internal error)."""
    codes = {(error.get("extensions") or {}).get("code") for error in response["errors"]}
    return 500 if "INTERNAL_SERVER_ERROR" in codes else 400
