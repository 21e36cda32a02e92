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
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    Undefined,
    is_leaf_type,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


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


class PlainFieldsExecutionContext(StrawberryGraphQLCoreExecutionContext):
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
