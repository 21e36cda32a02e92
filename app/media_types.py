"""GraphQL over HTTP's two response media types: which one a request asked for, and the
status code a result gets under `application/graphql-response+json`.

`application/json` is the legacy type: every GraphQL result is 200, whatever its errors
(transport refusals keep their 4xx). `application/graphql-response+json` lets the status
say what happened: a request that failed before execution (a parse, validation or variable
coercion error) is 400 and carries no `data` entry at all.

One refusal holds under both types: an operation that failed because the database is
unavailable (SERVICE_UNAVAILABLE, answered whole with no data) is 503 with Retry-After,
as a server that cannot take requests at the moment answers any HTTP request (the spec
lets a server deny a request with a 4xx or 5xx whatever the media type, as bookrec's
transport refusals do); under graphql-response+json it has no `data` entry either.
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
    client's mistake; 503 when the database is unavailable; 500 when the server failed (a
    masked internal error)."""
    codes = {(error.get("extensions") or {}).get("code") for error in response["errors"]}
    if "SERVICE_UNAVAILABLE" in codes:
        return 503
    return 500 if "INTERNAL_SERVER_ERROR" in codes else 400


def unavailable_retry_after(response: Mapping[str, Any]) -> int | None:
    """The seconds to send as Retry-After (with 503, under either media type) if the
    result is the database-unavailable refusal; None for any other result."""
    for error in response.get("errors") or []:
        extensions = error.get("extensions") or {}
        if extensions.get("code") == "SERVICE_UNAVAILABLE":
            seconds = extensions.get("retryAfterSeconds")
            return seconds if isinstance(seconds, int) and seconds > 0 else 1
    return None
