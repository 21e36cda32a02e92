"""The schema, with its protective limits."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass

import strawberry
from graphql import DocumentNode, GraphQLError, parse
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
from strawberry.types import ExecutionContext

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
        functools.partial(AddValidationRules, rules),
        functools.partial(ValidationCache, maxsize=DOCUMENT_CACHE_SIZE),
        UnitOfWorkExtension,
        functools.partial(ErrorPolicy, hide_suggestions=limits.hide_suggestions),
    ]
    return BookrecSchema(query=Query, mutation=Mutation, extensions=extensions)
