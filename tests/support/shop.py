"""A simulated shop: readers with hidden tastes ask for lists over the API, open the books
that match their taste more often than the others, rate some of what they opened, and like
(or dislike) some of what they rated. The
test (tests/api/test_simulated_shop.py) and the benchmark (bench/online.py) both use it,
over an in-process ASGI client or a real HTTP server alike (an `Api`)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from tests.support.api import Api

LIST = "query($n: Int!) { recommendations(first: $n) { listId book { id } } }"
OPEN = "mutation($b: ID!, $l: ID!) { openBook(bookId: $b, listId: $l) }"
RATE = "mutation($b: ID!, $s: Float!) { rateBook(bookId: $b, stars: $s) { stars } }"
LIKE = "mutation($b: ID!) { likeBook(bookId: $b) { id } }"
DISLIKE = "mutation($b: ID!) { dislikeBook(bookId: $b) { id } }"


@dataclass(frozen=True)
class Taste:
    """How a reader behaves: what they like, and how likely they open and rate."""

    liked: frozenset[int]
    open_liked: float = 0.6
    open_other: float = 0.05
    rate_opened: float = 0.5
    like_rated_liked: float = 0.3  # a rated book of their taste is also liked
    dislike_rated_other: float = 0.3  # a rated book of another taste is also disliked


@dataclass
class Reader:
    user_id: int
    token: str
    taste: Taste


@dataclass
class Visits:
    lists: int = 0
    shown: int = 0
    opened: int = 0
    rated: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)  # the first few, with their codes

    def failure(self, what: str, body: dict[str, object]) -> None:
        self.failed += 1
        if len(self.errors) < 10:
            self.errors.append(f"{what}: {body.get('errors')}")


async def visit(api: Api, reader: Reader, rng: random.Random, first: int, seen: Visits) -> None:
    """One visit: ask for a list, open some of it, rate some of what was opened."""
    body = await api.gql(LIST, {"n": first}, reader.token)
    if body.get("errors"):
        seen.failure("recommendations", body)
        return
    items = body["data"]["recommendations"]
    seen.lists += 1
    seen.shown += len(items)
    for item in items:
        book = int(item["book"]["id"])
        liked = book in reader.taste.liked
        if rng.random() >= (reader.taste.open_liked if liked else reader.taste.open_other):
            continue
        opened = await api.gql(OPEN, {"b": str(book), "l": item["listId"]}, reader.token)
        if opened.get("errors"):
            seen.failure("openBook", opened)
            continue
        seen.opened += 1
        if rng.random() < reader.taste.rate_opened:
            stars = 4.5 if liked else 1.5
            rated = await api.gql(RATE, {"b": str(book), "s": stars}, reader.token)
            if rated.get("errors"):
                seen.failure("rateBook", rated)
                continue
            seen.rated += 1
            chance = reader.taste.like_rated_liked if liked else reader.taste.dislike_rated_other
            if rng.random() < chance:
                mutation = LIKE if liked else DISLIKE
                felt = await api.gql(mutation, {"b": str(book)}, reader.token)
                if felt.get("errors"):
                    seen.failure("likeBook" if liked else "dislikeBook", felt)
