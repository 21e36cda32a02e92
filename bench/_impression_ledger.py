"""What bench/load.py checks about impressions after the load: every list served to an
answered request is recorded (`rec_list`, `rec_list_item`) with exactly the positions and
books it served, and nothing else is recorded.

The ledger keeps, per list id, the (position, book id) pairs the answers showed. A page's
positions follow the pages answered before it (the first page starts at 0; a continuation,
`recommendations(after: listId)`, at the number of positions shown so far). What a request
that was not answered did is unknown: a new list it may have made cannot be named (it is
counted, and as many unnamed recorded lists are "uncertain"), and positions of a list whose
continuation was not answered may be there or not (also "uncertain"). The ledger also tells
the mix which list a virtual user may continue: the last one it was answered, by the same
reader, after an answered page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from _httpx_driver import Outcome, graphql_check

KINDS = {"recommendations": "recommendations", "similarBooks": "similar"}  # field -> rec_list.kind


@dataclass
class ListAsk:
    """A recommendations or similarBooks request (its `Request.meta`)."""

    vu: int
    field: str  # "recommendations" | "similarBooks"
    token: str | None = None
    after: str | None = None  # the list this request continues
    first_position: int = 0  # positions that list showed before


@dataclass
class Continuable:
    list_id: str
    token: str
    positions: int  # shown so far: the next page starts there


def check_list(ask: ListAsk):  # type: ignore[no-untyped-def]
    """A 200 answer's check: one listId on every item, the continued one if `after`."""

    def check(body: dict[str, Any]) -> str | None:
        problem = graphql_check(body)
        if problem:
            return problem
        ids = {item["listId"] for item in body["data"][ask.field]}
        if len(ids) > 1:
            return f"{ask.field} answered {len(ids)} listIds in one page"
        if ask.after is not None and ids and ids != {ask.after}:
            return f"a continuation of {ask.after} answered listId {ids.pop()}"
        return None

    return check


@dataclass
class ImpressionLedger:
    served: dict[str, dict[int, int]] = field(default_factory=dict)  # list -> position -> book
    kinds: dict[str, str] = field(default_factory=dict)
    pages: int = 0  # answered pages with at least one item
    page_counts: dict[str, int] = field(default_factory=dict)
    uncertain_lists: set[str] = field(default_factory=set)  # a continuation went unanswered
    lost_new: int = 0  # new-list requests not answered: an unnamed list may be recorded
    empty_new: int = 0  # answered with no item: a recorded list without positions, unnamed
    failed: int = 0
    _open: dict[int, Continuable] = field(default_factory=dict)

    def continuable(self, vu: int) -> Continuable | None:
        return self._open.get(vu)

    def record(self, outcome: Outcome) -> None:
        ask = outcome.request.meta
        if not isinstance(ask, ListAsk):
            return
        if not outcome.ok or outcome.body is None:
            self.failed += 1
            if ask.after is not None:
                self.uncertain_lists.add(ask.after)
            else:
                self.lost_new += 1
            if ask.field == "recommendations":
                self._open.pop(ask.vu, None)
            return
        items = outcome.body["data"][ask.field]
        if not items:
            if ask.after is None:
                self.empty_new += 1
            else:
                self._open.pop(ask.vu, None)  # nothing more on that list
            return
        list_id = str(items[0]["listId"])
        self.pages += 1
        self.page_counts[list_id] = self.page_counts.get(list_id, 0) + 1
        self.kinds[list_id] = KINDS[ask.field]
        positions = self.served.setdefault(list_id, {})
        for i, item in enumerate(items):
            positions[ask.first_position + i] = int(item["book"]["id"])
        if ask.field == "recommendations" and ask.token is not None:
            self._open[ask.vu] = Continuable(list_id, ask.token, ask.first_position + len(items))


def recorded_lists(database_url: str) -> tuple[dict[str, str], dict[str, dict[int, int]]]:
    """(list id -> kind, list id -> position -> book id) of every recorded list."""
    import sqlalchemy as sa

    from db.engine import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            kinds = {
                str(i): str(k) for i, k in conn.execute(sa.text("SELECT id, kind FROM rec_list"))
            }
            items: dict[str, dict[int, int]] = {i: {} for i in kinds}
            for list_id, position, book_id in conn.execute(
                sa.text("SELECT list_id, position, book_id FROM rec_list_item")
            ):
                items.setdefault(str(list_id), {})[int(position)] = int(book_id)
    finally:
        engine.dispose()
    return kinds, items


def verify_impressions(
    database_url: str,
    ledger: ImpressionLedger,
    before: set[str],
    health: dict[str, Any] | None,
) -> tuple[bool, list[str]]:
    """Compare the ledger with the lists recorded since `before` (the ids there then)."""
    kinds, rows = recorded_lists(database_url)
    recorded = {k: v for k, v in rows.items() if k not in before}
    missing_lists = missing_pos = differ = extra_pos = uncertain_pos = 0
    problems: list[str] = []
    for list_id, served in ledger.served.items():
        got = recorded.get(list_id)
        if got is None:
            missing_lists += 1
            missing_pos += len(served)
            problems.append(f"list {list_id}: served {len(served)} positions, not recorded")
            continue
        if kinds.get(list_id) != ledger.kinds[list_id]:
            differ += 1
            problems.append(
                f"list {list_id}: served as {ledger.kinds[list_id]}, recorded as {kinds.get(list_id)}"
            )
        for position, book in served.items():
            if position not in got:
                missing_pos += 1
                problems.append(f"list {list_id} position {position}: served {book}, not recorded")
            elif got[position] != book:
                differ += 1
                problems.append(
                    f"list {list_id} position {position}: served {book}, recorded {got[position]}"
                )
        more = len(set(got) - set(served))
        if list_id in ledger.uncertain_lists:
            uncertain_pos += more
        elif more:
            extra_pos += more
            problems.append(f"list {list_id}: {more} recorded positions never served")
    # Lists no answer named: as many as the requests that may have made one unseen (not
    # answered; or answered with no item, for a list without positions) are "uncertain".
    unnamed = [k for k in recorded if k not in ledger.served]
    empty = sum(1 for k in unnamed if not recorded[k])
    sizes = sorted(len(recorded[k]) for k in unnamed if recorded[k])
    empty_unexplained = max(0, empty - ledger.empty_new)
    room = max(0, ledger.lost_new - empty_unexplained)
    uncertain_lists = min(empty, ledger.empty_new + ledger.lost_new) + min(len(sizes), room)
    uncertain_pos += sum(sizes[:room])
    extra_lists = len(unnamed) - uncertain_lists
    extra_pos += sum(sizes[room:])
    if extra_lists:
        problems.append(f"{extra_lists} recorded lists no answered request served")
    served_pos = sum(len(v) for v in ledger.served.values())
    recorded_pos = sum(len(v) for v in recorded.values())
    n_continued = sum(1 for n in ledger.page_counts.values() if n > 1)
    ok = not (missing_lists or missing_pos or differ or extra_lists or extra_pos)
    lines = [
        f"lists served: {len(ledger.served)} ({ledger.pages} pages, {n_continued} lists "
        f"continued past a first page); lists recorded: {len(recorded)}",
        f"positions served: {served_pos}; positions recorded: {recorded_pos}",
        f"missing: {missing_lists} lists, {missing_pos} positions; differ: {differ}; extra: "
        f"{extra_lists} lists, {extra_pos} positions; uncertain (an unanswered request): "
        f"{uncertain_lists} lists, {uncertain_pos} positions "
        f"({ledger.failed} list requests failed/unanswered, {ledger.empty_new} answered empty)",
    ]
    counters = (health or {}).get("lists")
    lines.append(
        "server /healthz lists before the stop: "
        + (
            ", ".join(f"{k} {counters.get(k)}" for k in ("pending", "written", "dropped"))
            if isinstance(counters, dict)
            else "not available"
        )
    )
    lines.extend("  " + p for p in problems[:10])
    return ok, lines
