"""What bench/serve.py asks, and of whom: the queries of each scenario, the full check of
its answers, and who asks (tokens of demo readers the model knows, readers registered
through the API). Each scenario is a request maker ``make(vu, seq) -> Request`` for the
httpx driver; ``wrk_requests`` turns one into the list wrk rotates through."""

from __future__ import annotations

import itertools
import json
import random
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from _graphql_calls import graphql, register_readers
from _httpx_driver import Request, graphql_check
from _script import log
from _wrk import WrkRequest

from schema.auth import Tokens
from schema.pagination import book_cursor

TRIVIAL = "{ __typename }"
BOOKS = """query($after: String) { books(first: 20, after: $after) { edges { node {
  id title authors categories { name } averageRating } } } }"""
# What a catalog page sends (the reader app's browse page, signed in): a page of 20 with
# each book's categories, average rating, count and the reader's own stars.
BOOKS_PAGE = """query CatalogPage($after: String) { books(first: 20, after: $after) {
  edges { cursor node { id title authors year coverUrl averageRating ratingsCount myRating
    categories { id name } } }
  pageInfo { hasNextPage endCursor } } }"""
RECOMMENDATIONS = "{ recommendations(first: 10) { score source book { id title } } }"
# What the frontend's recommendations page sends.
RECOMMENDATIONS_FRONTEND = """{ recommendations(first: 10) { book { id title categories { name } }
  score predictedStars source because { id } } }"""
SIMILAR = "query($id: ID!) { similarBooks(bookId: $id, first: 10) { score book { id } } }"
SHELF = """query($c: ID!) { recommendations(first: 10, categoryId: $c) { score source
  book { id title } } }"""
NEXT_PAGE = """query($l: String!) { recommendations(first: 10, after: $l) { score source listId
  book { id title } } }"""
FIRST_PAGE = "{ recommendations(first: 10) { listId } }"
RATE = "mutation($b: ID!, $s: Float!) { rateBook(bookId: $b, stars: $s) { stars } }"

PRODUCT_SCENARIOS = (
    "trivial",
    "books",
    "books-page",
    "rec-history",
    "rec-frontend",
    "rec-new-category",
    "rec-new-foldin",
    "rec-refreshed",
    "rec-category",
    "rec-continue",
    "similar",
)
BOOKMGR_SCENARIOS = ("bookmgr", "bookmgr-warm", "bookmgr-1batch")

Maker = Callable[[int, int], Request]
Check = Callable[[dict[str, Any]], str | None]


def _expect_list(field: str, n: int, source: str | None = None) -> Check:
    def check(body: dict[str, Any]) -> str | None:
        problem = graphql_check(body)
        if problem:
            return problem
        items = body["data"][field]
        if len(items) != n:
            return f"{field}: {len(items)} items, expected {n}"
        if source is not None:
            wrong = sorted({i["source"] for i in items} - {source})
            if wrong:
                return f"{field}: source {wrong}, expected {source}"
        return None

    return check


def _check_trivial(body: dict[str, Any]) -> str | None:
    return graphql_check(body) or (
        None if body["data"].get("__typename") == "Query" else "bad data"
    )


def _check_books(body: dict[str, Any]) -> str | None:
    problem = graphql_check(body)
    if problem:
        return problem
    edges = body["data"]["books"]["edges"]
    if len(edges) != 20 or not all(e["node"]["categories"] for e in edges):
        return f"books: {len(edges)} edges (or a book without categories)"
    return None


def _check_books_page(body: dict[str, Any]) -> str | None:
    problem = _check_books(body)
    if problem:
        return problem
    books = body["data"]["books"]
    if not books["pageInfo"]["hasNextPage"] or books["pageInfo"]["endCursor"] is None:
        return "books-page: no next page"
    rated = [e["node"] for e in books["edges"] if e["node"]["ratingsCount"]]
    if not rated or any(n["averageRating"] is None for n in rated):
        return "books-page: no rated book, or one without its average"
    return None


def _check_frontend(body: dict[str, Any]) -> str | None:
    problem = _expect_list("recommendations", 10, "MODEL")(body)
    if problem:
        return problem
    items = body["data"]["recommendations"]
    if not all(i["book"]["categories"] and i["predictedStars"] is not None for i in items):
        return "recommendations: a book without categories or a pick without predictedStars"
    return None


def _check_bookmgr(body: dict[str, Any]) -> str | None:
    items = (body.get("data") or {}).get("recommendations") or []
    return None if len(items) == 10 else f"bookmgr: {len(items)} items"


class Fixture:
    """Who asks and about what: tokens, book ids, registered new readers."""

    def __init__(
        self,
        secret: str,
        book_ids: list[int],
        reader_ids: list[int],
        category_ids: list[int],
        seed: int,
    ) -> None:
        self.rng = random.Random(seed)
        self.book_ids = book_ids
        self.category_ids = category_ids
        tokens = Tokens(secret, 24 * 3600)
        # Distinct demo readers per pool: those who rate during set-up (refreshed) and those
        # whose lists are continued must not change what the rec-history readers get.
        sample = self.rng.sample(reader_ids, min(2700, len(reader_ids)))
        self.history_tokens = [tokens.issue(uid) for uid in sample[:600]]
        self.refreshed_tokens = [tokens.issue(uid) for uid in sample[600:900]]
        # 1,800 lists continued in turn, 600 per cell: each cell continues a third of them,
        # so over a run (30 cells of 5 s, taking turns) a list shows some 50 pages, as a
        # reader who scrolls far does; with 300 lists (in the runs of 9 cells of 10 s) every
        # list grew to some 90 pages and the cells measured ever longer lists.
        self.continue_tokens = [tokens.issue(uid) for uid in sample[900:2700]]
        self.category_tokens: list[str] = []
        self.foldin_tokens: list[str] = []
        self.lists: list[tuple[str, str]] = []  # (token, listId) of a first page each

    def steady_state_warmup(self) -> dict[str, int]:
        """Warm-up lengths that reach every reader of a pool once: a folded-in vector
        (FOLD_IN, REFRESHED) is computed on a reader's first list after their ratings
        changed and kept while they stay unchanged, so the cells measure readers coming
        back (the first list's fold-in is timed by bench/controls.py)."""
        return {
            "rec-refreshed": len(self.refreshed_tokens),
            "rec-new-foldin": len(self.foldin_tokens),
        }


async def register_new_readers(fx: Fixture, base_url: str, n_category: int, n_foldin: int) -> None:
    """Readers registered through the API: some with categories only, some who then rate 3 books."""
    rng = fx.rng
    wanted = [
        [str(x) for x in rng.sample(fx.category_ids, rng.randint(1, 3))]
        for _ in range(n_category + n_foldin)
    ]
    prefix = f"bench{secrets.token_hex(3)}-"
    t0 = time.monotonic()
    readers = await register_readers(base_url, prefix, wanted)
    fx.category_tokens = [t for _, t in readers[:n_category]]
    fx.foldin_tokens = [t for _, t in readers[n_category:]]
    async with httpx.AsyncClient(base_url=base_url, timeout=60.0) as client:
        for token in fx.foldin_tokens:
            for book in rng.sample(fx.book_ids, 3):
                await graphql(
                    client, RATE, {"b": str(book), "s": rng.choice([3.0, 4.0, 4.5, 5.0])}, token
                )
        # Readers the model knows who rate once more after training: their lists refresh.
        # (Two books each: a rating equal to one the reader had would change nothing.)
        for token in fx.refreshed_tokens:
            for book, stars in zip(rng.sample(fx.book_ids, 2), (4.0, 4.5), strict=True):
                await graphql(client, RATE, {"b": str(book), "s": stars}, token)
        # A first page each, whose list the rec-continue cells then continue.
        for token in fx.continue_tokens:
            body = await graphql(client, FIRST_PAGE, {}, token)
            fx.lists.append((token, body["recommendations"][0]["listId"]))
    log(
        f"registered {len(readers)} new readers ({n_foldin} with 3 ratings) "
        f"in {time.monotonic() - t0:.1f}s"
    )


def _readers(rng: random.Random, tokens: Sequence[str]) -> Callable[[], dict[str, str]]:
    """Authorization headers of every reader of the pool in turn (shuffled once): distinct
    readers, as many as the pool has, before any repeats."""
    order = list(tokens)
    rng.shuffle(order)
    turn = itertools.cycle(order)
    return lambda: {"Authorization": f"Bearer {next(turn)}"}


def product_request(fx: Fixture, scenario: str) -> Maker:
    rng = fx.rng
    if scenario == "trivial":
        return lambda vu, seq: Request(scenario, {"query": TRIVIAL}, check=_check_trivial)
    if scenario == "books":

        def books(vu: int, seq: int) -> Request:
            # A random page of the catalog (cursor = the id before it), as a browsing reader.
            start = rng.randrange(0, len(fx.book_ids) - 40)
            after = book_cursor(fx.book_ids[start]) if start else None
            return Request(
                scenario, {"query": BOOKS, "variables": {"after": after}}, check=_check_books
            )

        return books
    if scenario == "books-page":
        auth = _readers(rng, fx.history_tokens)

        def books_page(vu: int, seq: int) -> Request:
            # Distinct readers on random pages: no two requests ask the same thing.
            start = rng.randrange(0, len(fx.book_ids) - 40)
            after = book_cursor(fx.book_ids[start]) if start else None
            return Request(
                scenario,
                {"query": BOOKS_PAGE, "variables": {"after": after}},
                auth(),
                check=_check_books_page,
            )

        return books_page
    if scenario.startswith("rec-"):
        query, pool, check = {
            "rec-history": (RECOMMENDATIONS, fx.history_tokens, _expect_list("recommendations", 10, "MODEL")),
            "rec-frontend": (RECOMMENDATIONS_FRONTEND, fx.history_tokens, _check_frontend),
            "rec-new-category": (RECOMMENDATIONS, fx.category_tokens, _expect_list("recommendations", 10, "CATEGORY_POPULAR")),
            "rec-new-foldin": (RECOMMENDATIONS, fx.foldin_tokens, _expect_list("recommendations", 10, "FOLD_IN")),
            "rec-refreshed": (RECOMMENDATIONS, fx.refreshed_tokens, _expect_list("recommendations", 10, "REFRESHED")),
        }.get(scenario, (None, [], _expect_list("recommendations", 10)))  # fmt: skip
        if scenario == "rec-category":  # known readers' shelves of a random category each
            auth = _readers(rng, fx.history_tokens)
            return lambda vu, seq: Request(
                scenario,
                {"query": SHELF, "variables": {"c": str(rng.choice(fx.category_ids))}},
                auth(),
                check=check,
            )
        if scenario == "rec-continue":  # the next page of a list, every time
            turn = itertools.cycle(fx.lists)

            def next_page(vu: int, seq: int) -> Request:
                token, list_id = next(turn)
                return Request(
                    scenario,
                    {"query": NEXT_PAGE, "variables": {"l": list_id}},
                    {"Authorization": f"Bearer {token}"},
                    check=check,
                )

            return next_page
        auth = _readers(rng, pool)
        return lambda vu, seq: Request(scenario, {"query": query}, auth(), check=check)
    if scenario == "similar":
        check = _expect_list("similarBooks", 10)
        return lambda vu, seq: Request(
            scenario,
            {"query": SIMILAR, "variables": {"id": str(rng.choice(fx.book_ids))}},
            check=check,
        )
    raise ValueError(scenario)


def bookmgr_request(fx: Fixture, scenario: str, n_users: int) -> Maker:
    rng = fx.rng
    batch = len(fx.book_ids) if scenario == "bookmgr-1batch" else None
    load = scenario == "bookmgr"
    return lambda vu, seq: Request(
        scenario,
        {"userIndex": rng.randrange(n_users), "batchSize": batch, "load": load},
        path="/recommend",
        check=_check_bookmgr,
    )


def wrk_requests(make: Maker, n: int = 600) -> list[WrkRequest]:
    """``n`` requests of a maker, for wrk to rotate through (600: every sampled demo reader
    once in the recommendation scenarios)."""
    out = []
    for seq in range(n):
        req = make(0, seq)
        body = json.dumps(req.payload, separators=(",", ":"))
        out.append(WrkRequest(req.path, body, req.headers.get("Authorization", "")))
    return out
