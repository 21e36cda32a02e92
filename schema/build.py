"""The schema, with its protective limits."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.types import ExecutionContext

from schema.extensions import ErrorPolicy, UnitOfWorkExtension
from schema.mutation import Mutation
from schema.query import Query


@dataclass(frozen=True)
class Limits:
    max_depth: int = 10
    max_tokens: int = 2000
    max_aliases: int = 30
    introspection: bool = True
    hide_suggestions: bool = False


class BookrecSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Logging happens in ErrorPolicy, once per error, and only for unexpected ones."""


def build_schema(limits: Limits = Limits()) -> strawberry.Schema:
    extensions: list = [  # type: ignore[type-arg]
        functools.partial(QueryDepthLimiter, max_depth=limits.max_depth),
        functools.partial(MaxTokensLimiter, max_token_count=limits.max_tokens),
        functools.partial(MaxAliasesLimiter, max_alias_count=limits.max_aliases),
        UnitOfWorkExtension,
        functools.partial(ErrorPolicy, hide_suggestions=limits.hide_suggestions),
    ]
    if not limits.introspection:
        extensions.append(functools.partial(AddValidationRules, [NoSchemaIntrospectionCustomRule]))
    return BookrecSchema(query=Query, mutation=Mutation, extensions=extensions)
