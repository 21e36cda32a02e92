"""Bounded load test of bookrec on loopback, with the default protections on.

    .venv/bin/python bench/load.py [--quick] [--seconds 30] [--max-requests 50000]
                                   [--concurrency 32] [--readers 64] [--workers 1]
                                   [--database-url postgresql://bookrec:bookrec@127.0.0.1:5432/bookrec_load]

1. a database with the demo catalog (SQLite in a temporary directory by default; with
   --database-url a PostgreSQL database, created if missing and dropped afterwards if this
   script created it, unless --keep), the default model (cached, see bench/serve.py);
2. ``bookrec serve`` with default settings (depth/token/alias limits, body limit on), only the
   database URL, model dir and a secret key set; readers registered through the API;
3. --concurrency virtual users send a mix for --seconds (and at most --max-requests requests):
   60% reads (books pages with search / category filter / viewer fields, a book by id,
   categories), 25% writes (rateBook, deleteRating, likeBook, dislikeBook by the registered
   readers), 15% recommendations (recommendations for demo and registered readers, 3 points of
   them the next page of the virtual user's last list, similarBooks);
4. requests/s, p50/p95/p99 latency and errors (non-200 or GraphQL ``errors``) per operation kind,
   per group and overall;
5. verification, after the server stopped: for every (reader, book) written, the rating row (and
   the like/dislike row) equals the last acknowledged write; no row exists that no write made.
   Each reader belongs to one virtual user, so its writes are sequential and "last" is defined.
   A write that failed or was not answered leaves its key "uncertain": either value is accepted.
   And every list served to an answered request (recommendations, their next pages, similarBooks)
   is recorded with exactly the (position, book) pairs served; no other list or position is,
   beyond what unanswered requests may have made (bench/_impression_ledger.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import secrets
import shutil
import signal
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

# The repository root: tests.support.server, the server harness shared with the tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _demo import (
    new_workdir,
    prepare_database,
    prepare_model,
    read_catalog,
    redact,
    start_bookrec,
)
from _graphql_calls import register_readers
from _httpx_driver import Outcome, Request, graphql_check, percentiles_ms, run_drive
from _impression_ledger import (
    ImpressionLedger,
    ListAsk,
    check_list,
    recorded_lists,
    verify_impressions,
)
from _load_ledger import (
    Ledger,
    Write,
    drop_postgres_database,
    ensure_postgres_database,
    is_postgres,
    verify,
)
from _machine import load_line, machine_info
from _script import exit_on_sigterm, log

from app.tables import text_table
from tests.support.server import Server

Q_BOOKS_SEARCH = """query($s: String!, $after: String) { books(first: 20, search: $s, after: $after) {
  totalCount edges { cursor node { id title authors averageRating categories { name } } }
  pageInfo { hasNextPage endCursor } } }"""
Q_BOOKS_CATEGORY = """query($c: ID!) { books(first: 20, categoryId: $c) {
  edges { node { id title ratingsCount averageRating likeCount } } pageInfo { hasNextPage } } }"""
Q_BOOKS_VIEWER = """query($after: String) { books(first: 50, after: $after) {
  edges { node { id title myRating myFeedback categories { id name } } } } }"""
Q_BOOK = """query($id: ID!) { book(id: $id) { id title authors year isbn likeCount ratingsCount
  averageRating categories { id name bookCount } } }"""
Q_CATEGORIES = "{ categories { id name bookCount } }"
Q_RECS = """{ recommendations(first: 10) { listId score source predictedStars book { id title }
  because { id } } }"""
Q_RECS_MORE = """query($after: String) { recommendations(first: 10, after: $after) {
  listId score source book { id title } } }"""
Q_SIMILAR = """query($id: ID!) { similarBooks(bookId: $id, first: 10) {
  listId score book { id title } } }"""
M_RATE = "mutation($b: ID!, $s: Float!) { rateBook(bookId: $b, stars: $s) { stars } }"
M_DELETE = "mutation($b: ID!) { deleteRating(bookId: $b) }"
M_LIKE = "mutation($b: ID!) { likeBook(bookId: $b) { id likeCount myFeedback } }"
M_DISLIKE = "mutation($b: ID!) { dislikeBook(bookId: $b) { id likeCount myFeedback } }"
SEARCH_TERMS = [
    "the",
    "harry",
    "king",
    "love",
    "war",
    "night",
    "girl",
    "house",
    "game",
    "dark",
    "life",
    "world",
    "zzzz-none",
    "an",
    "of",
]

# (kind, group, weight): 60% reads, 25% writes, 15% recommendations.
MIX = [
    ("books-search", "read", 15),
    ("books-category", "read", 15),
    ("books-viewer", "read", 10),
    ("book", "read", 12),
    ("categories", "read", 8),
    ("rateBook", "write", 15),
    ("deleteRating", "write", 2),
    ("likeBook", "write", 4),
    ("dislikeBook", "write", 4),
    ("recommendations", "recs", 7),
    ("recommendations-more", "recs", 3),  # the next page of the virtual user's last list
    ("similarBooks", "recs", 5),
]
GROUP = {kind: group for kind, group, _ in MIX}
BOOKS_PER_READER = 25  # writes of a reader hit a small set of books, so keys get overwritten


class Mix:
    def __init__(
        self,
        rng: random.Random,
        book_ids: list[int],
        category_ids: list[int],
        readers: list[tuple[int, str]],
        demo_tokens: list[str],
        concurrency: int,
        lists: ImpressionLedger | None = None,
    ) -> None:
        """`lists`: the ledger of served lists, from which "recommendations-more" continues
        a list (without it, that kind asks for a new list)."""
        self.lists = lists
        self.rng, self.book_ids, self.category_ids = rng, book_ids, category_ids
        self.readers = readers
        self.demo_tokens = demo_tokens
        # Reader i belongs to virtual user i % concurrency: its writes are never concurrent.
        self.own: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for i, reader in enumerate(readers):
            self.own[i % concurrency].append(reader)
        self.reader_books = {uid: rng.sample(book_ids, BOOKS_PER_READER) for uid, _ in readers}
        self.kinds = [k for k, _, _ in MIX]
        self.weights = [w for _, _, w in MIX]

    def _reader(self, vu: int) -> tuple[int, str]:
        mine = self.own.get(vu)
        return self.rng.choice(mine) if mine else self.rng.choice(self.readers)

    def _token(self) -> str:
        """Any reader: half registered ones, half demo readers (with a model history)."""
        if self.rng.random() < 0.5:
            return self.rng.choice(self.readers)[1]
        return self.rng.choice(self.demo_tokens)

    def __call__(self, vu: int, seq: int) -> Request:
        rng = self.rng
        kind = rng.choices(self.kinds, self.weights)[0]
        if kind in GROUP and GROUP[kind] == "write" and not self.own.get(vu):
            kind = "book"  # a virtual user without readers of its own only reads
        auth = lambda token: {"Authorization": f"Bearer {token}"}  # noqa: E731
        if kind == "books-search":
            return Request(
                kind, {"query": Q_BOOKS_SEARCH, "variables": {"s": rng.choice(SEARCH_TERMS)}}
            )
        if kind == "books-category":
            return Request(
                kind,
                {"query": Q_BOOKS_CATEGORY, "variables": {"c": str(rng.choice(self.category_ids))}},
            )
        if kind == "books-viewer":
            from schema.pagination import book_cursor

            start = rng.randrange(0, len(self.book_ids) - 60)
            after = book_cursor(self.book_ids[start]) if start else None
            return Request(
                kind, {"query": Q_BOOKS_VIEWER, "variables": {"after": after}}, auth(self._token())
            )
        if kind == "book":
            return Request(
                kind, {"query": Q_BOOK, "variables": {"id": str(rng.choice(self.book_ids))}}
            )
        if kind == "categories":
            return Request(kind, {"query": Q_CATEGORIES})
        more = self.lists.continuable(vu) if self.lists and kind == "recommendations-more" else None
        if more is not None:
            ask = ListAsk(vu, "recommendations", more.token, more.list_id, more.positions)
            return Request(
                kind,
                {"query": Q_RECS_MORE, "variables": {"after": more.list_id}},
                auth(more.token),
                check=check_list(ask),
                meta=ask,
            )
        if kind in ("recommendations", "recommendations-more"):
            ask = ListAsk(vu, "recommendations", self._token())
            return Request(
                "recommendations",
                {"query": Q_RECS},
                auth(ask.token or ""),
                check=check_list(ask),
                meta=ask,
            )
        if kind == "similarBooks":
            ask = ListAsk(vu, "similarBooks")
            return Request(
                kind,
                {"query": Q_SIMILAR, "variables": {"id": str(rng.choice(self.book_ids))}},
                check=check_list(ask),
                meta=ask,
            )
        reader, token = self._reader(vu)
        book = rng.choice(self.reader_books[reader])
        if kind == "rateBook":
            half = rng.randint(1, 10)
            return Request(
                kind,
                {"query": M_RATE, "variables": {"b": str(book), "s": half / 2}},
                auth(token),
                check=_check_rate(half / 2),
                meta=Write(reader, book, "rating", half),
            )
        if kind == "deleteRating":
            return Request(
                kind,
                {"query": M_DELETE, "variables": {"b": str(book)}},
                auth(token),
                meta=Write(reader, book, "rating", None),
            )
        feedback = "liked" if kind == "likeBook" else "disliked"
        return Request(
            kind,
            {"query": M_LIKE if kind == "likeBook" else M_DISLIKE, "variables": {"b": str(book)}},
            auth(token),
            check=_check_feedback(kind, feedback.upper()),
            meta=Write(reader, book, "feedback", feedback),
        )


def _check_rate(stars: float):  # type: ignore[no-untyped-def]
    def check(body: dict[str, Any]) -> str | None:
        problem = graphql_check(body)
        if problem:
            return problem
        got = body["data"]["rateBook"]["stars"]
        return None if got == stars else f"rateBook answered {got} stars, sent {stars}"

    return check


def _check_feedback(field_name: str, expected: str):  # type: ignore[no-untyped-def]
    def check(body: dict[str, Any]) -> str | None:
        problem = graphql_check(body)
        if problem:
            return problem
        got = body["data"][field_name]["myFeedback"]
        return None if got == expected else f"{field_name} answered myFeedback {got}"

    return check


def summarize(outcomes: list[Outcome], elapsed: float) -> str:
    rows = []
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        groups[o.request.kind].append(o)

    def row(label: str, items: list[Outcome]) -> list[Any]:
        p50, p95, p99 = percentiles_ms([o.latency for o in items])
        errors = sum(not o.ok for o in items)
        return [
            label,
            len(items),
            len(items) / elapsed,
            p50,
            p95,
            p99,
            errors,
            f"{100 * errors / len(items):.2f}%" if items else "-",
        ]

    for kind, _, _ in MIX:
        if groups.get(kind):
            rows.append(row(kind, groups[kind]))
    for group in ("read", "write", "recs"):
        items = [o for o in outcomes if GROUP.get(o.request.kind) == group]
        if items:
            rows.append(row(f"[{group}s]" if group != "recs" else "[recommendations]", items))
    rows.append(row("ALL", outcomes))
    return text_table(
        ["operation", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "error %"], rows
    )


def server_log_problems(path: Path) -> tuple[int, int, list[str]]:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return 0, 0, []
    tracebacks = sum(1 for line in text if line.startswith("Traceback"))
    errors = [line for line in text if " ERROR " in line]
    return tracebacks, len(errors), errors[:5]


def main(argv: list[str] | None = None) -> int:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds (CI smoke)")
    parser.add_argument(
        "--seconds", type=float, default=None, help="duration (default 30, quick 5)"
    )
    parser.add_argument("--max-requests", type=int, default=None, help="total request bound")
    parser.add_argument("--concurrency", type=int, default=None, help="virtual users (default 32)")
    parser.add_argument("--readers", type=int, default=None, help="registered readers who write")
    parser.add_argument("--workers", type=int, default=1, help="bookrec serve --workers")
    parser.add_argument(
        "--database-url",
        default=None,
        help="e.g. postgresql://bookrec:bookrec@127.0.0.1:5432/bookrec_load "
        "(created if missing; default: SQLite in a temporary directory)",
    )
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--keep", action="store_true", help="keep the temp dir and a created database"
    )
    args = parser.parse_args(argv)
    seconds = args.seconds or (5.0 if args.quick else 30.0)
    max_requests = args.max_requests or (2_000 if args.quick else 50_000)
    concurrency = args.concurrency or (8 if args.quick else 32)
    n_readers = args.readers or (16 if args.quick else 64)

    print("bookrec load test", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))
    for line in machine_info():
        print(line)
    workdir = new_workdir("bookrec-bench-load-")
    database_url = args.database_url or f"sqlite:///{workdir / 'bookrec.db'}"
    print(
        f"database: {redact(database_url)}; {concurrency} virtual users for {seconds:g} s "
        f"(at most {max_requests} requests); {n_readers} registered writers; "
        f"bookrec serve --workers {args.workers}, default protections"
    )
    sys.stdout.flush()
    created_db = False
    server: Server | None = None
    try:
        if is_postgres(database_url):
            created_db = ensure_postgres_database(database_url)
        prepare_database(database_url, workdir, workdir / "setup.log")
        model_dir = prepare_model(args.model_dir, database_url, workdir, workdir / "setup.log")
        book_ids, demo_readers, category_ids = read_catalog(database_url)
        secret = secrets.token_urlsafe(48)
        server = start_bookrec(database_url, model_dir, secret, workdir, args.workers)
        rng = random.Random(args.seed)
        t0 = time.monotonic()
        wanted = [
            [str(x) for x in rng.sample(category_ids, rng.randint(1, 3))] for _ in range(n_readers)
        ]
        readers = asyncio.run(register_readers(server.url, f"load{secrets.token_hex(3)}-", wanted))
        log(f"registered {len(readers)} readers in {time.monotonic() - t0:.1f}s")
        from schema.auth import Tokens

        tokens = Tokens(secret, 24 * 3600)
        demo_tokens = [
            tokens.issue(u) for u in rng.sample(demo_readers, min(300, len(demo_readers)))
        ]
        impressions = ImpressionLedger()
        mix = Mix(rng, book_ids, category_ids, readers, demo_tokens, concurrency, impressions)
        ledger = Ledger()
        lists_before = set(recorded_lists(database_url)[0])  # a kept database's older lists

        def on_outcome(outcome: Outcome) -> None:
            ledger.record(outcome)
            impressions.record(outcome)

        log(f"load: {concurrency} virtual users, {seconds:g} s")
        cell = run_drive(
            server.url,
            mix,
            concurrency,
            max_requests,
            seconds,
            on_outcome=on_outcome,
            server=server,
        )
        health = None
        with contextlib.suppress(Exception):
            import httpx

            health = httpx.get(server.url + "/healthz", timeout=10).json()
        process = server.process
        server.stop()
        exit_code = process.returncode if process is not None else None
        # uvicorn re-raises the SIGTERM it shut down on: -15 (or 0) is a clean stop; -9 means
        # Server.stop's SIGKILL after the grace period, and buffered lists may be lost.
        clean = exit_code in (0, -signal.SIGTERM)
        tracebacks, error_lines, samples = server_log_problems(server.log_path)

        outcomes = cell.outcomes
        errors = [o for o in outcomes if not o.ok]
        print()
        print(summarize(outcomes, cell.elapsed))
        print(
            f"\n{len(outcomes)} requests in {cell.elapsed:.1f} s = {len(outcomes) / cell.elapsed:.1f} req/s; "
            f"errors {len(errors)} ({100 * len(errors) / max(1, len(outcomes)):.2f}%); "
            f"server CPU {100 * (cell.server_cpu or 0) / cell.elapsed:.0f}%, "
            f"client CPU {100 * cell.client_cpu / cell.elapsed:.0f}% (of one core)"
        )
        if errors:
            print("errors by kind and message:")
            for (kind, msg), n in Counter(
                (o.request.kind, (o.error or "")[:110]) for o in errors
            ).most_common(8):
                print(f"  {n:5d}  {kind}: {msg}")
        print(
            f"server after the run: /healthz {health}; stopped with exit code {exit_code} "
            f"({'clean' if clean else 'NOT clean'}); "
            f"log: {tracebacks} tracebacks, {error_lines} ERROR lines"
        )
        for line in samples:
            print("  " + line[:200])
        ok_db, lines = verify(database_url, ledger, [u for u, _ in readers])
        print("\nverification of acknowledged writes:")
        for line in lines:
            print("  " + line)
        ok_lists, lines = verify_impressions(database_url, impressions, lists_before, health)
        print("\nverification of served lists (impressions):")
        for line in lines:
            print("  " + line)
        print(load_line(after_run=True))
        ok = ok_db and ok_lists and clean and not errors and tracebacks == 0
        print(
            f"\nverdict: {'PASS' if ok else 'FAIL'} (no errors, a clean stop, every acknowledged "
            "write stored, every served list recorded as served and nothing else)"
        )
        return 0 if ok else 1
    finally:
        if server is not None:
            server.stop()
        if args.keep:
            print(
                f"kept {workdir}" + (f" and database {redact(database_url)}" if created_db else "")
            )
        else:
            shutil.rmtree(workdir, ignore_errors=True)
            if created_db:
                with contextlib.suppress(Exception):
                    drop_postgres_database(database_url)


if __name__ == "__main__":
    sys.exit(main())
