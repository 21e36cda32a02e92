"""The schema, with its protective limits."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass

import strawberry
from graphql import DocumentNode, GraphQLError, OperationDefinitionNode, parse
from graphql.validation import (
    ASTValidationRule,
    NoSchemaIntrospectionCustomRule,
    ValidationContext,
    ValidationRule,
)
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.types import ExecutionContext

from schema.execution import PlainFieldsExecutionContext
from schema.extensions import ErrorPolicy, UnitOfWorkExtension
from schema.mutation import Mutation
from schema.query import Query

# Distinct documents whose parse and validation results are kept (LRU, bounded so that
# unique query texts cannot grow memory).
DOCUMENT_CACHE_SIZE = 256


@dataclass(frozen=True)
class Limits:
    max_depth: int = 10
    max_tokens: int = 2000
    max_aliases: int = 30
    introspection: bool = True
    hide_suggestions: bool = False


@functools.lru_cache(maxsize=DOCUMENT_CACHE_SIZE)
def _parse(query: str, max_tokens: int | None = None) -> DocumentNode:
    return parse(query, max_tokens=max_tokens)


class CachedParse(SchemaExtension):
    """Parse each distinct document once (strawberry's ParserCache turns a syntax error into
    an uncoded crash; here a failed parse is left to strawberry's own, well-reported one)."""

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.query and ctx.graphql_document is None:
            with contextlib.suppress(GraphQLError):
                ctx.graphql_document = _parse(ctx.query, **ctx.parse_options)
        yield


class OperationNameRequired(CannotGetOperationTypeError):
    """Raised out of the schema like strawberry's unknown-operationName error, so that the
    view answers both the same way (400, BAD_REQUEST)."""

    def __init__(self) -> None:
        super().__init__(None)

    def as_http_error_reason(self) -> str:
        return "The document has several operations: name the one to run in operationName."


class OneOperationOrNamed(SchemaExtension):
    """The spec's GetOperation: without an operationName the document must hold exactly one
    operation. (strawberry runs the first one; graphql-core never sees the request's missing
    name, because strawberry fills in the first operation's.)"""

    def on_parse(self) -> Iterator[None]:
        yield
        ctx = self.execution_context
        document = ctx.graphql_document
        # The name the request gave; `ctx.operation_name` falls back to the first operation's.
        if document is None or ctx._provided_operation_name is not None:
            return
        operations = sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)
        if operations > 1:
            raise OperationNameRequired


def _depth_rule(max_depth: int) -> type[ValidationRule]:
    """strawberry's depth rule, made safe for an empty selection set (`{ books {} }`),
    which graphql-core parses and the rule's depth arithmetic cannot handle."""
    base = depth_rule(max_depth, None, None)

    class DepthRule(base):  # type: ignore[valid-type, misc]
        def __init__(self, context: ValidationContext) -> None:
            try:
                super().__init__(context)
            except ValueError:
                ValidationRule.__init__(self, context)
                context.report_error(GraphQLError("Selection sets must not be empty."))

    return DepthRule


class BookrecSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Logging happens in ErrorPolicy, once per error, and only for unexpected ones."""


def build_schema(limits: Limits = Limits()) -> strawberry.Schema:
    # The limit rules are built once, not per request, so that the validation cache can
    # recognise a document it has already validated (its key includes the rule classes).
    rules: list[type[ASTValidationRule]] = [
        _depth_rule(limits.max_depth),
        alias_rule(limits.max_aliases),
    ]
    if not limits.introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    extensions: list = [  # type: ignore[type-arg]
        functools.partial(MaxTokensLimiter, max_token_count=limits.max_tokens),
        CachedParse,
        OneOperationOrNamed,
        functools.partial(AddValidationRules, rules),
        functools.partial(ValidationCache, maxsize=DOCUMENT_CACHE_SIZE),
        # Hooks are left in reverse order: the unit of work ends (and sees the errors as
        # raised) before ErrorPolicy presents them.
        functools.partial(ErrorPolicy, hide_suggestions=limits.hide_suggestions),
        UnitOfWorkExtension,
    ]
    return BookrecSchema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        execution_context_class=PlainFieldsExecutionContext,
    )
