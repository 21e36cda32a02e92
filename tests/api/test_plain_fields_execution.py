"""The short path for plain fields (schema/execution.py) gives exactly what graphql-core's
own execution gives: the same data and the same errors (message, path, locations), for
values that complete normally and for every way a field can fail."""

from __future__ import annotations

import asyncio
import json
from enum import Enum
from typing import Any, NewType

import pytest
import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.execution import NOT_READ, PlainFieldsExecutionContext, _Plan, plain_field, prefetched


@strawberry.enum
class Colour(Enum):
    RED = "red"
    BLUE = "blue"


class OtherColour(Enum):  # not the schema's: its members are not Colour's
    RED = "red"


Even = NewType("Even", int)


def _serialize_even(value: int) -> int:
    if value % 2:
        raise ValueError(f"{value} is odd")
    return value


CONFIG = StrawberryConfig(
    scalar_map={Even: strawberry.scalar(name="Even", serialize=_serialize_even, parse_value=int)}
)


@strawberry.type
class Leafy:
    name: str
    maybe: str | None
    colour: Colour
    even: Even
    number: float
    count: int = 0
    flag: bool = False
    ident: strawberry.ID = strawberry.ID("i")


@strawberry.type
class Holder:
    leafy: Leafy
    maybe_leafy: Leafy | None
    label: str
    tags: list[str] = strawberry.field(default_factory=list)
    maybe_tags: list[str | None] | None = None
    leaves: list[Leafy] = strawberry.field(default_factory=list)
    maybe_leaves: list[Leafy | None] | None = None
    stored_shelf: strawberry.Private[list[Leafy] | None] = None
    stored_note: strawberry.Private[Any] = NOT_READ  # str | None when read with the holder

    @strawberry.field
    @prefetched("stored_shelf")
    def shelf(self) -> list[Leafy]:
        if self.stored_shelf is not None:  # the contract of `prefetched`
            return self.stored_shelf
        return [_leafy(name="loaded")]  # what a dataloader would bring

    @strawberry.field
    @prefetched("stored_shelf")
    def maybe_shelf(self) -> list[Leafy] | None:
        # Nullable: a missing prefetched value must still reach the resolver, not be null.
        return self.stored_shelf if self.stored_shelf is not None else [_leafy(name="loaded")]

    @strawberry.field
    @prefetched("stored_note", missing=NOT_READ)
    def note(self) -> str | None:
        # A null read with the object is a value; only NOT_READ reaches the "loader".
        return self.stored_note if self.stored_note is not NOT_READ else "loaded"

    @strawberry.field
    def computed(self) -> str:
        return self.label.upper()

    @strawberry.field
    async def later(self) -> str:
        await asyncio.sleep(0)
        return self.label + "!"

    @strawberry.field
    def shout(self, times: int = 1) -> str:
        return self.label * times


class UnreadableLabel(Holder):
    """A source whose attribute read raises (a property, a lazy ORM load that fails)."""

    def __getattribute__(self, name: str) -> Any:
        if name == "label":
            raise RuntimeError("the label cannot be read")
        return super().__getattribute__(name)


class Iterable:
    """Iterable, but neither a list nor a tuple (iterated afresh by each execution)."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def __iter__(self) -> Any:
        return iter(self.items)


def _leafy(**overrides: Any) -> Leafy:
    values: dict[str, Any] = {
        "name": "n",
        "maybe": None,
        "colour": Colour.BLUE,
        "even": 4,
        "number": 1.5,
    }
    values.update(overrides)
    return Leafy(**values)


HOLDERS = {
    "fine": Holder(leafy=_leafy(), maybe_leafy=_leafy(maybe="m"), label="a", stored_note=None),
    "unreadable": UnreadableLabel(leafy=_leafy(), maybe_leafy=None, label="u"),
    "lists": Holder(
        leafy=_leafy(),
        maybe_leafy=None,
        label="h",
        tags=["x", "y"],
        maybe_tags=["x", None],
        leaves=[_leafy(), _leafy(name="second")],
        maybe_leaves=[None, _leafy(maybe="m")],
        stored_shelf=[_leafy(name="stored")],
    ),
    # Lists with what the schema refuses in them, or not lists at all: one each, so that
    # each is the only reason its holder cannot be planned.
    "null_in_tags": Holder(
        leafy=_leafy(),
        maybe_leafy=None,
        label="i",
        tags=["x", None],  # type: ignore[list-item]
    ),
    "not_a_list": Holder(
        leafy=_leafy(),
        maybe_leafy=None,
        label="k",
        maybe_tags="no",  # type: ignore[arg-type]
    ),
    "null_in_leaves": Holder(
        leafy=_leafy(),
        maybe_leafy=None,
        label="l",
        leaves=[_leafy(), None],  # type: ignore[list-item]
    ),
    "bad_in_maybe_leaves": Holder(
        leafy=_leafy(), maybe_leafy=None, label="m", maybe_leaves=[_leafy(even=7)]
    ),
    "tuple_lists": Holder(
        leafy=_leafy(),
        maybe_leafy=None,
        label="j",
        tags=("x",),  # type: ignore[arg-type]
        leaves=(_leafy(),),  # type: ignore[arg-type]
        maybe_leaves=Iterable([_leafy()]),  # type: ignore[arg-type]
    ),
    # A null where the schema promises a value: the error propagates to the nearest
    # nullable parent, exactly as graphql-core does it.
    "null_leaf": Holder(leafy=_leafy(name=None), maybe_leafy=_leafy(name=None), label="b"),
    "null_object": Holder(leafy=None, maybe_leafy=None, label="c"),  # type: ignore[arg-type]
    "bad_scalar": Holder(leafy=_leafy(even=3), maybe_leafy=_leafy(even=5), label="d"),
    "bad_enum": Holder(leafy=_leafy(colour="green"), maybe_leafy=None, label="e"),
    "bad_float": Holder(
        leafy=_leafy(number="x"), maybe_leafy=_leafy(number=float("nan")), label="f"
    ),
    # Values the built-in scalars and enums coerce (or refuse) rather than take as they
    # are: the plans' shortcuts for the usual types must not change their output.
    "coerced_leaves": Holder(
        leafy=_leafy(name=True, number=3, count=True, flag=1, ident=5, colour="red"),
        maybe_leafy=_leafy(name=2.5, count=-(2**31), ident="x"),
        label="n",
    ),
    "big_int": Holder(leafy=_leafy(count=2**31), maybe_leafy=_leafy(count=2**40), label="o"),
    "infinite_float": Holder(
        leafy=_leafy(number=float("inf")), maybe_leafy=_leafy(number=-float("inf")), label="p"
    ),
    "other_enum": Holder(
        leafy=_leafy(colour=OtherColour.RED), maybe_leafy=_leafy(colour=["red"]), label="q"
    ),
    "exception_value": Holder(
        leafy=_leafy(maybe=ValueError("an exception as a value")), maybe_leafy=None, label="g"
    ),
}


@strawberry.type
class Query:
    @strawberry.field
    def holder(self, kind: str) -> Holder | None:
        return HOLDERS[kind]

    @strawberry.field
    def holders(self) -> list[Holder]:
        return list(HOLDERS.values())

    # Lists of objects with unusual items: the whole list goes down graphql-core's path.
    @strawberry.field
    def holders_with_gaps(self) -> list[Holder | None]:
        return [HOLDERS["fine"], None, HOLDERS["lists"]]

    @strawberry.field
    def strict_holders(self) -> list[Holder]:
        return [HOLDERS["fine"], None]  # type: ignore[list-item]

    @strawberry.field
    def failing_holders(self) -> list[Holder]:
        return [HOLDERS["fine"], ValueError("an exception as an item")]  # type: ignore[list-item]

    @strawberry.field
    def awaited_holders(self) -> list[Holder | None]:
        async def later(holder: Holder | None) -> Holder | None:
            return holder

        return [later(HOLDERS["fine"]), later(None)]  # type: ignore[list-item]


QUERIES = [
    "{ holders { label computed leafy { name maybe colour even number __typename } } }",
    "{ holders { maybeLeafy { name maybe colour even number } label later } }",
    """query { a: holder(kind: "fine") { x: leafy { n: name, name } ...F } }
       fragment F on Holder { maybeLeafy { ... on Leafy { maybe colour } } shout(times: 2) }""",
    '{ holder(kind: "fine") { leafy { name @skip(if: true) maybe @include(if: true) } } }',
    *(
        f'{{ holder(kind: "{kind}") {{ label leafy {{ name maybe colour even number count '
        "flag ident } maybeLeafy { name even number count ident colour } } }"
        for kind in HOLDERS
    ),
    '{ holder(kind: "null_object") { leafy { name } } }',
    '{ holder(kind: "null_object") { maybeLeafy { name } label } }',
    '{ holder(kind: "exception_value") { leafy { maybe } } }',
    *(
        f'{{ holder(kind: "{kind}") {{ __typename tags maybeTags leaves {{ name even __typename }} '
        "maybeLeaves { name even } } }"
        for kind in (
            "lists",
            "null_in_tags",
            "not_a_list",
            "null_in_leaves",
            "bad_in_maybe_leaves",
            "tuple_lists",
            "fine",
        )
    ),
    "{ holders { label leaves { name } shelf { name colour } } }",
    '{ holder(kind: "lists") { shelf { name } } }',
    "{ holders { label maybeShelf { name } } }",
    '{ holder(kind: "lists") { leaves { ... on Leafy { name } n: name } l: leafy { name } } }',
    '{ holder(kind: "lists") { leaves { name @skip(if: true) maybe } } }',
    *(
        f"{{ a: {field} {{ __typename }} b: {field} {{ label leafy {{ name }} }} }}"
        for field in ("holdersWithGaps", "strictHolders", "failingHolders", "awaitedHolders")
    ),
    "{ holders @include(if: true) { label } }",
    "{ holders { label note } }",
    '{ holder(kind: "fine") { note } } ',
]


def _run(context_class: type, query: str) -> tuple[Any, list[tuple[Any, ...]]]:
    schema = strawberry.Schema(query=Query, execution_context_class=context_class, config=CONFIG)
    result = asyncio.run(schema.execute(query))
    errors = sorted(
        (e.message, tuple(e.path or ()), tuple((loc.line, loc.column) for loc in e.locations or ()))
        for e in result.errors or []
    )
    return result.data, errors


@pytest.mark.parametrize("query", QUERIES)
def test_same_data_and_errors_as_graphql_core(query: str) -> None:
    expected = _run(StrawberryGraphQLCoreExecutionContext, query)
    got = _run(PlainFieldsExecutionContext, query)
    assert got == expected
    assert json.dumps(got[0]) == json.dumps(expected[0])  # 3.0 is not 3, nor 1 True


def test_the_failing_cases_do_fail() -> None:
    """The comparison above would prove little if the broken values produced no errors."""
    for kind in ("null_leaf", "null_object", "bad_scalar", "bad_enum", "bad_float"):
        _, errors = _run(
            PlainFieldsExecutionContext,
            f'{{ holder(kind: "{kind}") {{ label leafy {{ name colour even number }} }} }}',
        )
        assert errors, kind


def test_which_fields_take_the_short_path() -> None:
    schema = strawberry.Schema(query=Query, config=CONFIG)._schema
    holder, leafy = schema.get_type("Holder"), schema.get_type("Leafy")
    short = {
        (t.name, name)
        for t in (holder, leafy)
        for name, field in t.fields.items()  # type: ignore[union-attr]
        if plain_field(field) is not None
    }
    assert short == {
        ("Holder", "leafy"),
        ("Holder", "maybeLeafy"),
        ("Holder", "label"),
        ("Leafy", "name"),
        ("Leafy", "maybe"),
        ("Leafy", "colour"),
        ("Leafy", "even"),
        ("Leafy", "number"),
        ("Leafy", "count"),
        ("Leafy", "flag"),
        ("Leafy", "ident"),
    }  # not the resolvers (computed, later) nor a field with arguments (shout)


def test_whole_object_plans_complete_plain_selections(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparisons above also pass if no plan ever runs: this one counts them."""
    runs: list[str] = []
    original = _Plan.run

    def counted(self: _Plan, source: Any) -> dict[str, Any]:
        runs.append(self.type_name)
        return original(self, source)

    monkeypatch.setattr(_Plan, "run", counted)
    data, errors = _run(
        PlainFieldsExecutionContext,
        '{ holder(kind: "lists") { label leaves { name } shelf { name } } }',
    )
    assert not errors
    assert data == {
        "holder": {
            "label": "h",
            "leaves": [{"name": "n"}, {"name": "second"}],
            "shelf": [{"name": "stored"}],
        }
    }
    # The whole holder in one plan, its lists' objects by the plans nested in it.
    assert runs == ["Holder", "Leafy", "Leafy", "Leafy"]
    runs.clear()
    # A resolver with arguments is not plain: the holder is not planned, its leaves are.
    _run(PlainFieldsExecutionContext, '{ holder(kind: "lists") { shout leaves { name } } }')
    assert runs == ["Leafy", "Leafy"]


def test_plans_are_kept_across_requests_unless_a_directive_takes_a_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the parse cache, a query is planned once, not per request, unless a directive
    takes a variable (@skip and @include may then keep other fields): then each request
    plans for itself. Every answer stays graphql-core's."""
    from schema.build import CachedParse

    made: list[str] = []
    original = PlainFieldsExecutionContext._make_plan

    def counted(self: PlainFieldsExecutionContext, return_type: Any, details: Any) -> Any:
        made.append(return_type.name)
        return original(self, return_type, details)

    monkeypatch.setattr(PlainFieldsExecutionContext, "_make_plan", counted)

    def schema(context_class: type) -> strawberry.Schema:
        return strawberry.Schema(
            query=Query,
            execution_context_class=context_class,
            config=CONFIG,
            extensions=[CachedParse],
        )

    plain, core = schema(PlainFieldsExecutionContext), schema(StrawberryGraphQLCoreExecutionContext)

    def both(query: str, variables: dict[str, Any] | None = None) -> Any:
        ours = asyncio.run(plain.execute(query, variable_values=variables))
        theirs = asyncio.run(core.execute(query, variable_values=variables))
        assert (ours.data, ours.errors) == (theirs.data, theirs.errors)
        return ours.data

    fixed = '{ holder(kind: "lists") { label leaves { name @skip(if: true) even } } }'
    first = both(fixed)
    assert made == ["Holder", "Leafy"]
    made.clear()
    assert both(fixed) == first and made == []  # the second request reuses both plans
    varied = """query($hide: Boolean!) { holder(kind: "lists") {
        label leaves { name @skip(if: $hide) even } } }"""
    shown, hidden = both(varied, {"hide": False}), both(varied, {"hide": True})
    assert shown != hidden
    assert "name" in shown["holder"]["leaves"][0] and "name" not in hidden["holder"]["leaves"][0]
    assert made == ["Holder", "Leafy", "Holder", "Leafy"]  # planned per request
    made.clear()
    in_fragment = """query($hide: Boolean!) { holder(kind: "lists") { ...F } }
        fragment F on Holder { label leaves { name @skip(if: $hide) even } }"""
    assert both(in_fragment, {"hide": False}) != both(in_fragment, {"hide": True})
    assert made == ["Holder", "Leafy", "Holder", "Leafy"]
    made.clear()
    # Variables that only feed arguments cannot change a plan: planned once, shared.
    argument = "query($k: String!) { holder(kind: $k) { label leaves { name even } } }"
    lists, fine = both(argument, {"k": "lists"}), both(argument, {"k": "fine"})
    assert lists != fine
    assert made == ["Holder", "Leafy"]


def test_the_service_schema_uses_it() -> None:
    from schema.build import build_schema

    assert build_schema().execution_context_class is PlainFieldsExecutionContext


def test_lists_of_plain_objects_are_completed_by_their_plan_in_one_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """graphql-core completes a list item by item; a list of plainly selected objects
    takes one loop over the selection's plan instead (and graphql-core's path whenever
    an item is unusual: the comparisons above)."""
    items: list[Any] = []
    original = StrawberryGraphQLCoreExecutionContext.complete_list_item_value

    def counted(self: Any, item: Any, *args: Any) -> bool:
        items.append(item)
        return original(self, item, *args)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "complete_list_item_value", counted)
    data, errors = _run(PlainFieldsExecutionContext, "{ holdersWithGaps { label } }")
    assert not errors
    assert data == {"holdersWithGaps": [{"label": "a"}, None, {"label": "h"}]}
    assert items == []
    data, errors = _run(PlainFieldsExecutionContext, "{ strictHolders { label } }")
    assert errors and data is None  # the null propagates to the root, as graphql-core does
    assert items == [HOLDERS["fine"], None]  # given up on: graphql-core did the list


def test_a_prefetched_null_is_a_value_and_not_read_reaches_the_resolver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs: list[str] = []
    original = _Plan.run

    def counted(self: _Plan, source: Any) -> dict[str, Any]:
        runs.append(getattr(source, "label", "?"))
        return original(self, source)

    monkeypatch.setattr(_Plan, "run", counted)
    data, errors = _run(PlainFieldsExecutionContext, "{ holdersWithGaps { label note } }")
    assert not errors
    # "fine" read its note (null) with the object: planned. "lists" did not: the list's
    # loop gave up there, graphql-core took the list item by item (each by its plan where
    # it can: "a" again) and called the resolver for "h" ("loaded").
    assert data == {
        "holdersWithGaps": [{"label": "a", "note": None}, None, {"label": "h", "note": "loaded"}]
    }
    assert runs == ["a", "h", "a", "h"]
    runs.clear()
    data, _ = _run(PlainFieldsExecutionContext, '{ holder(kind: "fine") { label note } }')
    assert data == {"holder": {"label": "a", "note": None}} and runs == ["a"]
