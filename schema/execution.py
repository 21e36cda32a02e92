"""graphql-core execution with a short path for plain fields.

Ten recommendations with their books, categories, scores and sources are about a hundred
fields, and nearly all of them are plain attributes: ids, titles, numbers, enums, and the
book objects themselves. For each one graphql-core builds a resolve-info object, looks the
resolver up through the middleware manager, calls it, checks twice whether the result is
awaitable and walks the type's wrappers before it serialises the value or descends into
the object.

`PlainFieldsExecutionContext` does the same work in fewer steps for fields that cannot
behave differently (decided once per schema, type and field): strawberry's basic resolver
(no resolver function, no field extensions, no permissions: it reads the attribute and
never looks at the resolve info), no arguments, no middleware in the request, and a type
that is a scalar, an enum, or an object type without an `is_type_of` check (nullable or
not). A leaf is coerced by its own type as graphql-core would; an object's sub-fields are
executed by graphql-core itself, and an error among them is handled exactly as
graphql-core's `execute_field` handles it. Anything unusual before that (a null for a
non-null field, a value a scalar refuses, an exception) goes down graphql-core's own path,
which then reports it exactly as it always did, with its path and location.

One level up, an object whose whole selection is plain (recursively: plain leaves, plain
objects, lists of them, `__typename`, and resolvers marked `prefetched` whose value was
read with the object) is completed by a plan made once per selection (per query, or per
request when a directive takes a variable): a tight loop that reads the attributes and
coerces the leaves. Ten recommendations are ten such objects. If anything about a value is
unusual (a null where the schema promises a value, an exception, a value a scalar
refuses, a prefetched value that is missing), the plan gives up on that object and
graphql-core completes it from the start (the reads have no side effects), reporting
errors exactly as it always does.
"""

from __future__ import annotations

import math
import operator
import weakref
from collections.abc import Awaitable, Callable, Iterable
from enum import Enum
from typing import Any, TypeVar

from graphql import (
    GraphQLBoolean,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
    ListValueNode,
    ObjectValueNode,
    Undefined,
    VariableNode,
    is_leaf_type,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import CustomGraphQLEnumType

F = TypeVar("F", bound=Callable[..., Any])
_PREFETCHED = "_bookrec_prefetched"


class _NotRead:
    def __repr__(self) -> str:
        return "NOT_READ"


NOT_READ: Any = _NotRead()  # a prefetched attribute whose value was not read in the trip


def prefetched(attribute: str, missing: Any = None) -> Callable[[F], F]:
    """Marks a resolver (under `@strawberry.field`) that returns `self.<attribute>` as it
    is whenever that is not `missing`: a value read with the object in the same trip.
    Whole-object plans read the attribute then, without calling the resolver, and give the
    object to graphql-core when it is `missing`. With the default (None), a null is never
    taken from the attribute; with `missing=NOT_READ`, a null read in the trip is a value
    (a book nobody rated has no average)."""

    def mark(resolver: F) -> F:
        setattr(resolver, _PREFETCHED, (attribute, missing))
        return resolver

    return mark


class _Plain:
    """How to complete one plain field: strawberry's basic resolver (which reads the
    attribute) and the field's type inside any non-null wrapper."""

    __slots__ = ("field_type", "inner", "leaf", "non_null", "resolve")

    def __init__(self, field: GraphQLField) -> None:
        self.resolve: Callable[..., Any] = field.resolve  # type: ignore[assignment]
        self.field_type: GraphQLOutputType = field.type
        self.non_null = isinstance(field.type, GraphQLNonNull)
        self.inner: Any = _unwrapped(field.type)
        self.leaf = is_leaf_type(self.inner)


# Per schema: (type name, field name) -> the field's short path, None if it has none.
_PLANS: weakref.WeakKeyDictionary[GraphQLSchema, dict[tuple[str, str], _Plain | None]] = (
    weakref.WeakKeyDictionary()
)


def _unwrapped(kind: GraphQLOutputType) -> Any:
    return kind.of_type if isinstance(kind, GraphQLNonNull) else kind


def plain_field(field: GraphQLField | None) -> _Plain | None:
    """The short path of a field, None if it does not qualify."""
    if field is None or field.args or field.resolve is None:
        return None
    if not getattr(field.resolve, "_is_default", False):  # strawberry's basic resolver only
        return None
    kind = _unwrapped(field.type)
    if is_leaf_type(kind) or (isinstance(kind, GraphQLObjectType) and kind.is_type_of is None):
        return _Plain(field)
    return None


class _GiveUp(Exception):
    """A value a whole-object plan does not complete: graphql-core does the object."""


_GIVE_UP = _GiveUp()

# How a plan step completes its value.
_LEAF, _OBJECT, _LIST_OF_LEAVES, _LIST_OF_OBJECTS, _TYPENAME = range(5)
# A leaf of a built-in scalar or an enum, with the values its coercion returns unchanged
# (or, for an enum, by a table) taken without calling it; any other value is coerced.
_LEAF_AS_IS, _LEAF_FLOAT, _LEAF_INT, _LEAF_ENUM = range(5, 9)
_AS_IS = {GraphQLString: str, GraphQLID: str, GraphQLBoolean: bool}
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1  # GraphQL's Int


def _attribute_getter(field: GraphQLField) -> tuple[Callable[[Any], Any], Any] | None:
    """How a whole-object plan reads this field's value from its source, and the value
    that means it is not there (give up), or None if it cannot: strawberry's basic field
    (the attribute, read as strawberry's default resolver reads it; never missing), or a
    `prefetched` resolver (its attribute, and its `missing`)."""
    definition = (field.extensions or {}).get("strawberry-definition")
    if definition is None or field.args or definition.extensions:
        return None
    resolver = definition.base_resolver
    if resolver is None:
        if not getattr(field.resolve, "_is_default", False):
            return None
        if definition.default_resolver is not getattr:
            name, read = definition.python_name, definition.default_resolver
            return (lambda source: read(source, name)), _NEVER
        return operator.attrgetter(definition.python_name), _NEVER
    marked = getattr(resolver.wrapped_func, _PREFETCHED, None)
    if marked is None:
        return None
    attribute, missing = marked
    return operator.attrgetter(attribute), missing


_NEVER: Any = object()  # no value is this: a plain attribute is never missing


class _Step:
    __slots__ = (
        "as_is",
        "getter",
        "item_non_null",
        "key",
        "kind",
        "leaf",
        "missing",
        "names",
        "non_null",
        "plan",
    )

    def __init__(self, key: str, kind: int) -> None:
        self.key = key
        self.kind = kind
        self.getter: Callable[[Any], Any] = _none
        self.non_null = False
        self.item_non_null = False
        self.leaf: Any = None
        self.plan: _Plan | None = None
        self.missing: Any = _NEVER  # read from a prefetched attribute: not there, give up
        self.as_is: type | None = None  # _LEAF_AS_IS: values of this type are their own output
        self.names: dict[Any, str] = {}  # _LEAF_ENUM: member -> name, as coercion gives it


def _none(_source: Any) -> None:
    return None


class _Plan:
    """Completes one object whose selection is plain, into the dict graphql-core makes."""

    __slots__ = ("steps", "type_name")

    def __init__(self, type_name: str, steps: list[_Step]) -> None:
        self.type_name = type_name
        self.steps = steps

    def run(self, source: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for step in self.steps:
            kind = step.kind
            if kind == _TYPENAME:
                out[step.key] = self.type_name
                continue
            value = step.getter(source)
            if value is step.missing:
                raise _GIVE_UP
            if value is None:
                if step.non_null:
                    raise _GIVE_UP
                out[step.key] = None
            elif (
                (kind == _LEAF_AS_IS and type(value) is step.as_is)
                or (kind == _LEAF_FLOAT and type(value) is float and math.isfinite(value))
                or (kind == _LEAF_INT and type(value) is int and _INT_MIN <= value <= _INT_MAX)
            ):
                out[step.key] = value
            elif kind == _LEAF_ENUM and type(value) is step.as_is and value in step.names:
                out[step.key] = step.names[value]
            elif isinstance(value, Exception):
                raise _GIVE_UP
            elif kind == _LEAF or kind >= _LEAF_AS_IS:
                out[step.key] = _coerce(step.leaf, value)
            elif kind == _OBJECT:
                out[step.key] = step.plan.run(value)  # type: ignore[union-attr]
            else:
                if type(value) is not list and type(value) is not tuple:
                    raise _GIVE_UP
                out[step.key] = [_item(step, kind, item) for item in value]
        return out


def _directive_variables(operation: Any, fragments: Iterable[Any]) -> bool:
    """Whether any directive in these nodes' selections takes a variable, at any depth of
    its arguments' values."""
    stack: list[Any] = [operation, *fragments]
    while stack:
        node = stack.pop()
        for directive in getattr(node, "directives", None) or ():
            if any(_reads_variable(argument.value) for argument in directive.arguments or ()):
                return True
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
    return False


def _reads_variable(value: Any) -> bool:
    if isinstance(value, VariableNode):
        return True
    if isinstance(value, ListValueNode):
        return any(_reads_variable(v) for v in value.values)
    if isinstance(value, ObjectValueNode):
        return any(_reads_variable(f.value) for f in value.fields)
    return False


def _leaf_step(key: str, leaf: Any) -> _Step:
    """A leaf's step: for graphql-core's own scalars and for enums, the values whose
    coercion is known without calling it."""
    if leaf in _AS_IS:
        step = _Step(key, _LEAF_AS_IS)
        step.as_is = _AS_IS[leaf]
    elif leaf is GraphQLFloat:
        step = _Step(key, _LEAF_FLOAT)
    elif leaf is GraphQLInt:
        step = _Step(key, _LEAF_INT)
    elif isinstance(leaf, CustomGraphQLEnumType) and isinstance(leaf.wrapped_cls, type):
        step = _Step(key, _LEAF_ENUM)
        step.as_is = leaf.wrapped_cls  # strawberry's enum: it coerces members of this class
        step.names = _enum_names(leaf, leaf.wrapped_cls)
    else:
        step = _Step(key, _LEAF)
    return step


def _enum_names(leaf: CustomGraphQLEnumType, members: Any) -> dict[Any, str]:
    """Each member's output, as the enum type's own coercion gives it (a member it
    refuses is left out: coerced, and refused, when met)."""
    names: dict[Any, str] = {}
    if issubclass(members, Enum):
        for member in members:
            try:
                names[member] = leaf.coerce_output_value(member)
            except Exception:  # coerced, and refused, when met
                continue
    return names


def _coerce(leaf: Any, value: Any) -> Any:
    try:
        coerced = leaf.coerce_output_value(value)
    except Exception:
        raise _GIVE_UP from None
    if coerced is Undefined or coerced is None:
        raise _GIVE_UP
    return coerced


def _item(step: _Step, kind: int, item: Any) -> Any:
    if item is None:
        if step.item_non_null:
            raise _GIVE_UP
        return None
    if isinstance(item, Exception):
        raise _GIVE_UP
    if kind == _LIST_OF_LEAVES:
        return _coerce(step.leaf, item)
    return step.plan.run(item)  # type: ignore[union-attr]


def _list_by_plan(
    plan: _Plan, items: Iterable[Any], non_null: bool, is_awaitable: Callable[[Any], bool]
) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if item is None:
            if non_null:
                raise _GIVE_UP
            out.append(None)
        elif isinstance(item, Exception) or is_awaitable(item):
            raise _GIVE_UP
        else:
            out.append(plan.run(item))
    return out


# Per schema: plans kept across requests. The parse cache gives every request of the same
# query the same document, so its selections are the same nodes, and only variables could
# make two requests' plans differ (through @skip and @include): so the plans of a query
# whose directives take no variable are shared. Keyed by (type name, ids of the
# selection's nodes); each entry keeps its selection, so those ids are not reused while it
# is there. Emptied when full.
_SHARED_PLANS: weakref.WeakKeyDictionary[
    GraphQLSchema, dict[tuple[Any, ...], tuple[Any, _Plan | None]]
] = weakref.WeakKeyDictionary()
_SHARED_PLANS_MAX = 2048
# Per operation with variables (by id; the node is kept): does a directive take one?
_OPERATIONS: dict[int, tuple[Any, bool]] = {}


class PlainFieldsExecutionContext(StrawberryGraphQLCoreExecutionContext):
    # (type name, id of a selection) -> (the selection, kept alive; its plan or None)
    _bookrec_plans: dict[tuple[Any, ...], tuple[Any, _Plan | None]]

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        node = field_details_list[0].node
        manager = self.middleware_manager
        if not node.arguments and (manager is None or not manager.middlewares):
            plans = _PLANS.get(self.schema)
            if plans is None:
                plans = _PLANS[self.schema] = {}
            key = (parent_type.name, node.name.value)
            try:
                plan = plans[key]
            except KeyError:
                plan = plans[key] = plain_field(self.schema.get_field(parent_type, key[1]))
            if plan is not None:
                done, result = self._short(plan, source, field_details_list, path, position_context)
                if done:
                    return result
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def _short(
        self, plan: _Plain, source: Any, field_details_list: Any, path: Any, position_context: Any
    ) -> tuple[bool, Any]:
        """(True, the completed value), or (False, None): graphql-core's path must do it
        (nothing has been executed yet, so it can start from the beginning)."""
        try:
            value = plan.resolve(source, None)
        except Exception:  # graphql-core's path reports it, located
            return False, None
        if value is None:
            return (False, None) if plan.non_null else (True, None)
        if isinstance(value, Exception):
            return False, None
        if plan.leaf:
            leaf: GraphQLLeafType = plan.inner
            try:
                coerced = leaf.coerce_output_value(value)
            except Exception:  # as above
                return False, None
            if coerced is Undefined or coerced is None:
                return False, None
            return True, coerced
        # An object: its sub-fields, with graphql-core's own error handling for this field.
        try:
            completed = self.collect_and_execute_subfields(
                plan.inner, field_details_list, path, value, position_context
            )
        except Exception as raw_error:
            self.handle_field_error(raw_error, plan.field_type, field_details_list, path)
            return True, None
        if self.is_awaitable(completed):
            return True, self._awaited(completed, plan.field_type, field_details_list, path)
        return True, completed

    async def _awaited(
        self,
        completed: Awaitable[Any],
        field_type: GraphQLOutputType,
        field_details_list: Any,
        path: Any,
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, field_type, field_details_list, path)
            return None

    # ------------------------------------------------------------ whole-object plans
    def collect_and_execute_subfields(
        self,
        return_type: GraphQLObjectType,
        field_details_list: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        plan = self._plan_of(return_type, field_details_list)
        if plan is not None:
            try:
                return plan.run(result)
            except Exception:  # _GiveUp, or a read that raised: graphql-core locates it
                pass
        return super().collect_and_execute_subfields(
            return_type, field_details_list, path, result, position_context
        )

    def complete_iterable_value(
        self,
        item_type: GraphQLOutputType,
        field_details_list: Any,
        info: Any,
        path: Any,
        items: Any,
        position_context: Any,
    ) -> Any:
        """A list of objects whose selection is plain (a resolver's list of ten
        recommendations): every item by the selection's plan, in one loop. If an item is
        unusual (a null where the schema promises an object, an awaitable, a value the plan
        gives up on), or the field has a directive (@stream), graphql-core completes the
        whole list from the start (the plans' reads have no side effects)."""
        if type(items) is list or type(items) is tuple:
            inner = _unwrapped(item_type)
            if (
                isinstance(inner, GraphQLObjectType)
                and inner.is_type_of is None
                and not any(d.node.directives for d in field_details_list)
            ):
                plan = self._plan_of(inner, field_details_list)
                if plan is not None:
                    try:
                        return _list_by_plan(plan, items, inner is not item_type, self.is_awaitable)
                    except Exception:  # _GiveUp, or a read that raised
                        pass
        return super().complete_iterable_value(
            item_type, field_details_list, info, path, items, position_context
        )

    def _plan_of(self, return_type: GraphQLObjectType, field_details_list: Any) -> _Plan | None:
        """The plan for this selection on this type, None if it is not all plain. Made once
        per query (see `_SHARED_PLANS`), or once per request (the same selection list
        completes every item of a list) when a directive of the query takes a variable."""
        key: tuple[Any, ...]
        if self._directives_read_variables():  # then @skip / @include decide per request
            try:
                plans = self._bookrec_plans
            except AttributeError:
                plans = self._bookrec_plans = {}
            key = (return_type.name, id(field_details_list))
        else:
            shared = _SHARED_PLANS.get(self.schema)
            if shared is None or len(shared) >= _SHARED_PLANS_MAX:
                shared = _SHARED_PLANS[self.schema] = {}
            plans = shared
            key = (return_type.name, *(id(d.node) for d in field_details_list))
        found = plans.get(key)
        if found is None:
            # The selection list is kept with its plan so that its id is not reused.
            found = plans[key] = (
                field_details_list,
                self._make_plan(return_type, field_details_list),
            )
        return found[1]

    def _directives_read_variables(self) -> bool:
        """Whether a directive anywhere in this operation or its fragments takes a variable
        (decided once per operation)."""
        operation = self.operation
        if not operation.variable_definitions:
            return False
        found = _OPERATIONS.get(id(operation))
        if found is None:
            if len(_OPERATIONS) >= _SHARED_PLANS_MAX:
                _OPERATIONS.clear()
            # graphql-core's fragment details: the definition, and fragment variables if any
            fragments = list(self.fragments.values())
            reads = any(getattr(f, "variable_signatures", None) for f in fragments)
            reads = reads or _directive_variables(
                operation, [getattr(f, "definition", f) for f in fragments]
            )
            found = _OPERATIONS[id(operation)] = (operation, reads)  # kept: its id stays its own
        return found[1]

    def _make_plan(self, return_type: GraphQLObjectType, field_details_list: Any) -> _Plan | None:
        grouped, new_defer_usages, _forbidden = self.collect_subfields(
            return_type, field_details_list
        )
        if new_defer_usages:
            return None
        steps: list[_Step] = []
        for key, details in grouped.items():
            if any(d.defer_usage is not None or d.fragment_variable_values for d in details):
                return None
            node = details[0].node
            if node.arguments or (
                node.directives
                and any(d.name.value not in ("skip", "include") for d in node.directives)
            ):
                return None
            name = node.name.value
            if name == "__typename":
                steps.append(_Step(key, _TYPENAME))
                continue
            field = return_type.fields.get(name)
            read = None if field is None else _attribute_getter(field)
            if field is None or read is None:
                return None
            step = self._step(key, field, details)
            if step is None:
                return None
            step.getter, step.missing = read
            steps.append(step)
        return _Plan(return_type.name, steps)

    def _step(self, key: str, field: GraphQLField, details: Any) -> _Step | None:
        kind: Any = field.type
        non_null = isinstance(kind, GraphQLNonNull)
        kind = _unwrapped(kind)
        item_non_null = False
        listed = isinstance(kind, GraphQLList)
        if listed:
            kind = kind.of_type
            item_non_null = isinstance(kind, GraphQLNonNull)
            kind = _unwrapped(kind)
            if isinstance(kind, GraphQLList):
                return None  # lists of lists: graphql-core's
        if is_leaf_type(kind):
            step = _leaf_step(key, kind) if not listed else _Step(key, _LIST_OF_LEAVES)
            step.leaf = kind
        elif isinstance(kind, GraphQLObjectType) and kind.is_type_of is None:
            plan = self._plan_of(kind, details)
            if plan is None:
                return None
            step = _Step(key, _LIST_OF_OBJECTS if listed else _OBJECT)
            step.plan = plan
        else:
            return None
        step.non_null, step.item_non_null = non_null, item_non_null
        return step
