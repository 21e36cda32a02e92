"""Staff's catalog mutations: add, edit, hide, categorise; validated like every write
(clear BAD_USER_INPUT, NOT_FOUND, CONFLICT), each one transaction with nothing half-written;
and what hiding means for readers' listings, lookups and writes."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.api import Api, make_staff

ADD = "mutation($i: BookInput!) { addBook(input: $i) { id title authors year isbn description coverUrl hidden categories { id } } }"
UPDATE = "mutation($b: ID!, $i: BookInput!) { updateBook(id: $b, input: $i) { id title year isbn categories { id } } }"
HIDE = "mutation($b: ID!, $h: Boolean!) { setBookHidden(id: $b, hidden: $h) { id hidden } }"
SET_CATEGORIES = "mutation($b: ID!, $c: [ID!]!) { setBookCategories(id: $b, categoryIds: $c) { id categories { id name } } }"
ADD_CATEGORY = "mutation($n: String!) { addCategory(name: $n) { id name bookCount } }"
LIST = "query($s: String, $c: ID, $h: Boolean!) { books(first: 100, search: $s, categoryId: $c, includeHidden: $h) { totalCount edges { node { id hidden } } } }"


@pytest.fixture
async def staff(api: Api, engine: sa.Engine) -> str:
    token = await api.register("keeper")
    make_staff(engine, "keeper")
    return token


def _snapshot(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            table: sorted(map(tuple, conn.execute(sa.text(f"SELECT * FROM {table}"))), key=repr)
            for table in ("book", "book_category", "category")
        }


async def test_add_book_stores_the_checked_fields(api: Api, staff: str, engine: sa.Engine) -> None:
    book = {
        "title": "  A New Book ",
        "authors": "Some One",
        "year": 2024,
        "isbn": "978-0-306-40615-7",
        "description": "",
        "coverUrl": "https://covers.example/1.jpg",
        "categoryIds": ["1", "3"],
    }
    added = (await api.ok(ADD, {"i": book}, staff))["addBook"]
    assert added == {
        "id": added["id"],
        "title": "A New Book",
        "authors": "Some One",
        "year": 2024,
        "isbn": "9780306406157",
        "description": None,
        "coverUrl": "https://covers.example/1.jpg",
        "hidden": False,
        "categories": [{"id": "1"}, {"id": "3"}],
    }
    assert int(added["id"]) > 5
    listed = await api.ok(LIST, {"s": "new book", "h": False})
    assert [e["node"]["id"] for e in listed["books"]["edges"]] == [added["id"]]
    fantasy = await api.ok("{ categories { id bookCount } }")
    assert {"id": "1", "bookCount": 4} in fantasy["categories"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"title": "   "}, "The title must not be empty."),
        ({"title": "x" * 501}, "The title is limited to 500 characters; got 501."),
        ({"title": "two\nlines"}, "The title must be one line of text (no control characters)."),
        ({"authors": "y" * 501}, "The authors is limited to 500 characters; got 501."),
        ({"year": 12000}, "The year must be between -3000 and"),
        ({"year": -5000}, "The year must be between -3000 and"),
        ({"isbn": "0306406153"}, "'0306406153' is not a valid ISBN"),
        ({"isbn": "978030640615"}, "'978030640615' is not a valid ISBN"),
        ({"coverUrl": "javascript:alert(1)"}, "The cover URL must be an http:// or https://"),
        ({"coverUrl": "https://x/" + "a" * 500}, "The cover URL is limited to 500 characters."),
        ({"description": "d" * 20_001}, "The description is limited to 20000 characters."),
        ({"categoryIds": ["one"]}, "'one' is not a valid category id."),
        ({"categoryIds": [str(i) for i in range(1, 52)]}, "A book has at most 50 categories."),
    ],
)
async def test_bad_book_input_is_refused_and_writes_nothing(
    api: Api, staff: str, engine: sa.Engine, change: dict[str, Any], message: str
) -> None:
    before = _snapshot(engine)
    book = {"title": "Fine", "authors": "Fine", **change}
    for query, variables in ((ADD, {"i": book}), (UPDATE, {"b": "1", "i": book})):
        error = await api.error(query, variables, staff)
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert error["message"].startswith(message), error["message"]
    assert _snapshot(engine) == before


async def test_unknown_ids_are_not_found_and_write_nothing(
    api: Api, staff: str, engine: sa.Engine
) -> None:
    before = _snapshot(engine)
    cases = [
        (ADD, {"i": {"title": "T", "authors": "A", "categoryIds": ["1", "99"]}}),
        (UPDATE, {"b": "1", "i": {"title": "Changed", "authors": "A", "categoryIds": ["98"]}}),
        (UPDATE, {"b": "999", "i": {"title": "T", "authors": "A"}}),
        (HIDE, {"b": "999", "h": True}),
        (SET_CATEGORIES, {"b": "999", "c": ["1"]}),
        (SET_CATEGORIES, {"b": "1", "c": ["2", "97"]}),
    ]
    for query, variables in cases:
        error = await api.error(query, variables, staff)
        assert error["extensions"]["code"] == "NOT_FOUND", (variables, error)
        assert error["message"].startswith(("No category with id", "No book with id")), error
    assert _snapshot(engine) == before


async def test_update_replaces_fields_and_keeps_categories_unless_given(
    api: Api, staff: str
) -> None:
    kept = await api.ok(
        UPDATE, {"b": "3", "i": {"title": "Dune (1965)", "authors": "F. H."}}, staff
    )
    assert kept["updateBook"] == {
        "id": "3",
        "title": "Dune (1965)",
        "year": None,  # every field is replaced: a year left out is no year
        "isbn": None,
        "categories": [{"id": "1"}, {"id": "3"}],
    }
    moved = await api.ok(
        UPDATE, {"b": "3", "i": {"title": "Dune", "authors": "F. H.", "categoryIds": []}}, staff
    )
    assert moved["updateBook"]["categories"] == []
    regrouped = await api.ok(SET_CATEGORIES, {"b": "3", "c": ["2", "2", "3"]}, staff)
    assert regrouped["setBookCategories"]["categories"] == [
        {"id": "2", "name": "Mystery"},
        {"id": "3", "name": "Science Fiction"},
    ]


async def test_add_category_and_duplicates_conflict(
    api: Api, staff: str, engine: sa.Engine
) -> None:
    added = (await api.ok(ADD_CATEGORY, {"n": " Poetry "}, staff))["addCategory"]
    assert added == {"id": added["id"], "name": "Poetry", "bookCount": 0}
    before = _snapshot(engine)
    for name in ("Poetry", "fantasy", "MYSTERY"):
        error = await api.error(ADD_CATEGORY, {"n": name}, staff)
        assert error["extensions"]["code"] == "CONFLICT"
        assert error["message"].startswith("A category named")
    for name, message in (("", "must not be empty"), ("c" * 101, "limited to 100")):
        error = await api.error(ADD_CATEGORY, {"n": name}, staff)
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and message in error["message"]
    assert _snapshot(engine) == before


async def test_a_failed_step_rolls_back_the_whole_operation(
    api: Api, staff: str, engine: sa.Engine
) -> None:
    """Two staff mutations in one operation: the second fails, so the first is not kept."""
    before = _snapshot(engine)
    error = await api.error(
        'mutation { a: addBook(input: { title: "Kept?", authors: "A" }) { id }'
        ' b: setBookHidden(id: "999", hidden: true) { id } }',
        token=staff,
    )
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert _snapshot(engine) == before


async def test_hidden_books_are_for_staff_only(api: Api, staff: str, engine: sa.Engine) -> None:
    reader = await api.register("reader")
    await api.ok('mutation { rateBook(bookId: "1", stars: 4) { stars } }', token=reader)
    await api.ok('mutation { likeBook(bookId: "1") { id } }', token=reader)
    assert (await api.ok(HIDE, {"b": "1", "h": True}, staff))["setBookHidden"]["hidden"] is True

    everyone = await api.ok(LIST, {"h": False})
    assert [e["node"]["id"] for e in everyone["books"]["edges"]] == ["2", "3", "4", "5"]
    assert everyone["books"]["totalCount"] == 4
    fantasy = await api.ok(LIST, {"c": "1", "h": False}, reader)
    assert [e["node"]["id"] for e in fantasy["books"]["edges"]] == ["3", "4"]
    assert (await api.ok(LIST, {"s": "hobbit", "h": False}))["books"]["totalCount"] == 0
    counts = (await api.ok("{ categories { id bookCount } }"))["categories"]
    assert {"id": "1", "bookCount": 2} in counts

    for token in (None, reader):
        assert (await api.ok('{ book(id: "1") { id } }', token=token))["book"] is None
    seen = await api.ok('{ book(id: "1") { id hidden } }', token=staff)
    assert seen["book"] == {"id": "1", "hidden": True}
    listed = await api.ok(LIST, {"h": True}, staff)
    assert listed["books"]["totalCount"] == 5
    assert listed["books"]["edges"][0]["node"] == {"id": "1", "hidden": True}
    for token, code in ((reader, "FORBIDDEN"), (None, "UNAUTHENTICATED")):
        error = await api.error(LIST, {"h": True}, token)
        assert error["extensions"]["code"] == code

    # Readers' writes: none new on a hidden book; their rating and like are kept and
    # may still be taken back.
    for mutation in (
        'rateBook(bookId: "1", stars: 2) { stars }',
        'dislikeBook(bookId: "1") { id }',
    ):
        error = await api.error(f"mutation {{ {mutation} }}", token=reader)
        assert error["extensions"]["code"] == "NOT_FOUND", error
    mine = await api.ok(
        "{ me { ratings { edges { node { stars book { id hidden } } } } } }", token=reader
    )
    assert mine["me"]["ratings"]["edges"] == [
        {"node": {"stars": 4.0, "book": {"id": "1", "hidden": True}}}
    ]
    with engine.connect() as conn:
        assert (
            conn.execute(sa.text("SELECT kind FROM feedback WHERE book_id = 1")).scalar() == "liked"
        )
    await api.ok('mutation { clearFeedback(bookId: "1") { id } }', token=reader)
    assert (await api.ok('mutation { deleteRating(bookId: "1") }', token=reader))["deleteRating"]

    await api.ok(HIDE, {"b": "1", "h": False}, staff)
    assert (await api.ok('{ book(id: "1") { id hidden } }', token=reader))["book"] == {
        "id": "1",
        "hidden": False,
    }


async def test_catalog_page_fields_match_the_dataloaders(api: Api, staff: str) -> None:
    """The page's prefetched fields (one trip) say what the per-book dataloaders say."""
    reader = await api.register("rater")
    await api.ok('mutation { rateBook(bookId: "2", stars: 3.5) { stars } }', token=reader)
    await api.ok('mutation { rateBook(bookId: "2", stars: 4.5) { stars } }', token=staff)
    await api.ok('mutation { dislikeBook(bookId: "3") { id } }', token=reader)
    fields = "id averageRating ratingsCount myRating myFeedback categories { name }"
    page = await api.ok(
        f"{{ books(first: 5) {{ edges {{ node {{ {fields} }} }} }} }}", token=reader
    )
    single = [
        (await api.ok(f'{{ book(id: "{i}") {{ {fields} }} }}', token=reader))["book"]
        for i in range(1, 6)
    ]
    assert [e["node"] for e in page["books"]["edges"]] == single
    assert single[1]["averageRating"] == 4.0 and single[1]["ratingsCount"] == 2
    assert single[1]["myRating"] == 3.5 and single[2]["myFeedback"] == "DISLIKED"
