"""Catalog queries: books (pagination, filters, search), book, categories."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from db.fastread import FastReads, Prepared
from tests.support.api import Api

BOOK_FIELDS = "id title authors year isbn description coverUrl likeCount averageRating ratingsCount myRating myFeedback categories { id name }"


async def test_books_page_and_cursor(api: Api) -> None:
    first = await api.ok(
        "{ books(first: 2) { totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }"
    )
    conn = first["books"]
    assert conn["totalCount"] == 5
    assert [e["node"]["id"] for e in conn["edges"]] == ["1", "2"]
    assert conn["pageInfo"] == {"hasNextPage": True, "endCursor": conn["edges"][-1]["cursor"]}
    rest = await api.ok(
        "query($a: String) { books(first: 10, after: $a) { edges { node { id } } pageInfo { hasNextPage endCursor } } }",
        {"a": conn["pageInfo"]["endCursor"]},
    )
    assert [e["node"]["id"] for e in rest["books"]["edges"]] == ["3", "4", "5"]
    assert rest["books"]["pageInfo"]["hasNextPage"] is False


async def test_books_fields(api: Api) -> None:
    data = await api.ok(f"{{ books(first: 1) {{ edges {{ node {{ {BOOK_FIELDS} }} }} }} }}")
    node = data["books"]["edges"][0]["node"]
    assert node == {
        "id": "1",
        "title": "The Hobbit",
        "authors": "J.R.R. Tolkien",
        "year": 1937,
        "isbn": "0618260307",
        "description": None,
        "coverUrl": "http://x/1.jpg",
        "likeCount": 0,
        "averageRating": None,
        "ratingsCount": 0,
        "myRating": None,
        "myFeedback": None,
        "categories": [{"id": "1", "name": "Fantasy"}],
    }


async def test_filter_by_category_and_search(api: Api) -> None:
    fantasy = await api.ok('{ books(categoryId: "1") { totalCount edges { node { id } } } }')
    assert [e["node"]["id"] for e in fantasy["books"]["edges"]] == ["1", "3", "4"]
    assert fantasy["books"]["totalCount"] == 3
    tolkien = await api.ok('{ books(search: "tOlKiEn") { edges { node { id } } } }')
    assert [e["node"]["id"] for e in tolkien["books"]["edges"]] == ["1", "4"]
    both = await api.ok('{ books(search: "ring", categoryId: "1") { totalCount } }')
    assert both["books"]["totalCount"] == 1
    # LIKE wildcards in the search term are literal characters
    assert (await api.ok('{ books(search: "100%") { totalCount } }'))["books"]["totalCount"] == 1
    assert (await api.ok('{ books(search: "_") { totalCount } }'))["books"]["totalCount"] == 1
    assert (await api.ok('{ books(search: "%") { totalCount } }'))["books"]["totalCount"] == 1


async def test_book_by_id_and_unknown(api: Api) -> None:
    data = await api.ok('{ book(id: "3") { title categories { name } } }')
    assert data["book"] == {
        "title": "Dune",
        "categories": [{"name": "Fantasy"}, {"name": "Science Fiction"}],
    }
    assert (await api.ok('{ book(id: "999") { title } }'))["book"] is None


async def test_categories_with_counts(api: Api) -> None:
    data = await api.ok("{ categories { id name bookCount } }")
    assert data["categories"] == [
        {"id": "1", "name": "Fantasy", "bookCount": 3},
        {"id": "2", "name": "Mystery", "bookCount": 1},
        {"id": "3", "name": "Science Fiction", "bookCount": 1},
    ]


async def test_bad_arguments(api: Api) -> None:
    for query in (
        "{ books(first: 0) { totalCount } }",
        "{ books(first: 101) { totalCount } }",
        '{ books(after: "not-a-cursor") { totalCount } }',
        '{ books(after: "Ym9vazp4") { totalCount } }',  # "book:x"
        '{ books(categoryId: "abc") { totalCount } }',
        '{ book(id: "-1") { title } }',
        '{ book(id: "1e3") { title } }',
    ):
        error = await api.error(query)
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (query, error)
    long_search = await api.error(
        "query($s: String) { books(search: $s) { totalCount } }", {"s": "x" * 201}
    )
    assert long_search["extensions"]["code"] == "BAD_USER_INPUT"


async def test_wrong_types_are_bad_input(api: Api) -> None:
    error = await api.error("query($f: Int!) { books(first: $f) { totalCount } }", {"f": "ten"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    error = await api.error('{ books(first: "ten") { totalCount } }')
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_page_of_50_is_a_constant_number_of_statements(
    api: Api, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO book (id, title) SELECT 100 + n, 'Book ' || n FROM "
                "(SELECT 1 AS n UNION ALL SELECT 2) AS x"
            )
        )
    token = await api.register("counter")
    for book in ("1", "2", "3"):
        await api.ok(
            f'mutation {{ rateBook(bookId: "{book}", stars: 4) {{ stars }} }}', token=token
        )
    await api.ok('mutation { dislikeBook(bookId: "4") { id } }', token=token)

    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if (
            not statement.lstrip()
            .upper()
            .startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"))
        ):
            statements.append(statement)

    # The page's own trip runs on the DB-API cursor (db.fastread), which SQLAlchemy's
    # events do not see: count those statements where they are run.
    real_rows = FastReads.rows

    def counted_rows(self: FastReads, prepared: Prepared, **params: object) -> list:  # type: ignore[type-arg]
        statements.append(str(prepared.statement))
        return real_rows(self, prepared, **params)

    monkeypatch.setattr(FastReads, "rows", counted_rows)
    query = f"{{ books(first: 50) {{ totalCount edges {{ node {{ {BOOK_FIELDS} }} }} }} }}"
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        data = await api.ok(query, token=token)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    nodes = [e["node"] for e in data["books"]["edges"]]
    assert len(nodes) == 7
    assert {n["id"]: n["myRating"] for n in nodes if n["myRating"]} == {
        "1": 4.0,
        "2": 4.0,
        "3": 4.0,
    }
    assert [n["id"] for n in nodes if n["myFeedback"] == "DISLIKED"] == ["4"]
    # page + count + categories + rating stats + viewer ratings + viewer feedback, and the
    # session check (the token's epoch against the account, once for the whole request)
    assert len(statements) == 7, statements
    assert sum("token_epoch" in s for s in statements) == 1, statements
