"""Expected failures as GraphQL errors with `extensions.code`; everything else is masked."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

from db.errors import Conflict, DataError, InvalidInput, NotFound


class ApiError(GraphQLError):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message, extensions={"code": self.code, **extra})


class Unauthenticated(ApiError):
    code = "UNAUTHENTICATED"


class Forbidden(ApiError):
    code = "FORBIDDEN"


class NotFoundError(ApiError):
    code = "NOT_FOUND"


class BadUserInput(ApiError):
    code = "BAD_USER_INPUT"


class ConflictError(ApiError):
    code = "CONFLICT"


class TooManyRequests(ApiError):
    code = "TOO_MANY_REQUESTS"


# How long a client is asked to wait while the database is unreachable or restarting
# (`extensions.retryAfterSeconds`, and the HTTP response's Retry-After).
UNAVAILABLE_RETRY_SECONDS = 2
UNAVAILABLE_MESSAGE = "The database is unavailable; try again shortly."


class ServiceUnavailable(ApiError):
    """The operation failed because the database could not be reached (or was restarting):
    nothing of it was kept, and the same request shortly will most likely succeed."""

    code = "SERVICE_UNAVAILABLE"

    def __init__(self) -> None:
        super().__init__(UNAVAILABLE_MESSAGE, retryAfterSeconds=UNAVAILABLE_RETRY_SECONDS)


_FROM_DATA_ERROR: dict[type[DataError], type[ApiError]] = {
    NotFound: NotFoundError,
    Conflict: ConflictError,
    InvalidInput: BadUserInput,
}


def from_data_error(error: DataError) -> ApiError:
    return _FROM_DATA_ERROR.get(type(error), BadUserInput)(str(error))


MAX_ID = 2**31 - 1  # primary keys are 32-bit INTEGER columns


def parse_id(value: str, what: str = "id") -> int:
    """IDs are decimal integers on the wire; anything else is the client's mistake."""
    number = parse_key(str(value).strip())
    if number is None:
        raise BadUserInput(f"'{value}' is not a valid {what}.")
    return number


def parse_key(text: str) -> int | None:
    """A positive 32-bit integer written in ASCII digits, or None. (str.isdigit alone
    accepts superscripts and other scripts' digits.)"""
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None
