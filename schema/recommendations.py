"""GraphQL side of recommendations, similar books and model information: arguments in,
`recommend.RecommendationService` results out as GraphQL types."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import strawberry
from graphql import FieldNode, FragmentSpreadNode
from strawberry.scalars import JSON
from strawberry.types import Info

from db.errors import DataError
from recommend import Recommended, Request, Served, Source
from schema.context import SESSION_ENDED, Context
from schema.errors import BadUserInput, Unauthenticated, from_data_error, parse_id
from schema.pagination import check_first
from schema.types import Book, filled_in_defaults

# The domain's enum, exposed as it is (strawberry registers the class itself).
strawberry.enum(Source, name="RecommendationSource")


@strawberry.type
class Recommendation:
    # The books were read with the picks, in the same trip. Every field is a plain value
    # (the executor completes those far more cheaply than resolvers); `because` is only
    # worked out by the chain when a client selects it.
    book: Book
    score: float
    predicted_stars: float | None
    source: Source
    list_id: strawberry.ID = strawberry.field(
        description="The list this pick is on: `recommendations(after: listId)` continues it."
    )
    because: Book | None = strawberry.field(
        description="The reader's highly rated book most similar to this one."
    )

    @classmethod
    def from_domain(cls, found: Recommended, list_id: str) -> Recommendation:
        pick = found.pick
        item = object.__new__(cls)  # every field set (_FIELDS), as the dataclass's __init__ would
        item.__dict__.update(
            book=Book.shown(found.book, found.categories),
            score=round(pick.score, 6),
            predicted_stars=pick.predicted_stars,
            source=pick.source,
            list_id=strawberry.ID(list_id),
            because=None if found.because is None else Book.shown(found.because),
        )
        return item

    @classmethod
    def page(cls, served: Served) -> list[Recommendation]:
        return [cls.from_domain(r, served.list_id) for r in served.items]


# The fields `from_domain` fills in: all of them (checked at import).
_FIELDS = ("book", "score", "predicted_stars", "source", "list_id", "because")
filled_in_defaults(Recommendation, _FIELDS)


@strawberry.type
class ModelInfo:
    version: str
    created_at: datetime | None
    architecture: str
    readers_known: int
    books_known: int
    holdout_metrics: JSON = strawberry.field(description="Held-out evaluation of this model.")
    baseline_metrics: JSON = strawberry.field(
        description="The most-rated baseline on the same split."
    )


def selected_names(info: Info[Context, None]) -> set[str]:
    """The names of every field selected anywhere under this one, through fragments too
    (read from the query's own nodes: strawberry's `selected_fields` also converts every
    argument and directive, a cost on every request; a field that @skip leaves out is
    counted, which only costs work)."""
    raw = info._raw_info  # graphql-core's resolve info: the field's nodes and the fragments
    names: set[str] = set()
    seen: set[str] = set()  # fragment names already walked
    stack: list[Any] = [node.selection_set for node in raw.field_nodes]
    while stack:
        selection_set = stack.pop()
        if selection_set is None:
            continue
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                names.add(node.name.value)
                stack.append(node.selection_set)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = raw.fragments.get(name)
                if fragment is not None and name not in seen:
                    seen.add(name)
                    stack.append(fragment.selection_set)
            else:  # an inline fragment
                stack.append(node.selection_set)
    return names


MAX_EXCLUDED = 500  # books a client may ask to keep out of one list


def recommendation_request(
    wanted: set[str],
    first: int,
    category_id: strawberry.ID | None,
    exclude_book_ids: list[strawberry.ID] | None,
    diversity: float = 0.0,
    after: str | None = None,
) -> Request:
    """The GraphQL arguments as the chain's request, checked; `wanted`: the names of the
    fields the client selected under the list (`because` is only worked out if asked)."""
    excluded = exclude_book_ids or []
    if len(excluded) > MAX_EXCLUDED:
        raise BadUserInput(
            f"'excludeBookIds' takes at most {MAX_EXCLUDED} ids; got {len(excluded)}."
        )
    if not (math.isfinite(diversity) and 0.0 <= diversity <= 1.0):
        raise BadUserInput(f"'diversity' must be between 0 and 1; got {diversity}.")
    return Request(
        k=check_first(first),
        explain="because" in wanted,
        category_id=None if category_id is None else parse_id(category_id, "category id"),
        exclude=frozenset(parse_id(b, "book id") for b in excluded),
        diversity=diversity,
        after=_list_id(after),
    )


def _list_id(value: str | None) -> str | None:
    if value is None:
        return None
    if not (0 < len(value) <= 64 and value.isascii()):
        raise BadUserInput("'after' takes a listId from an earlier page of recommendations.")
    return value


async def resolve_recommendations(
    info: Info[Context, None],
    first: int,
    category_id: strawberry.ID | None = None,
    exclude_book_ids: list[strawberry.ID] | None = None,
    diversity: float = 0.0,
    after: str | None = None,
) -> list[Recommendation]:
    ctx = info.context
    wanted = selected_names(info)  # through fragments too; yes when unsure only costs work
    request = recommendation_request(wanted, first, category_id, exclude_book_ids, diversity, after)
    claim = ctx.require_claim()
    model, variant = ctx.served_model()
    try:
        # The token is checked against the account in the trip that reads the reader.
        found = await ctx.services.recommendations.for_reader(
            claim.user_id,
            request,
            model,
            with_categories="categories" in wanted,
            token_epoch=claim.epoch,
            variant=variant,
            with_like_counts="likeCount" in wanted,
        )
    except DataError as exc:
        raise from_data_error(exc) from None
    if found is None:
        raise Unauthenticated(SESSION_ENDED)
    return Recommendation.page(found)


async def resolve_similar_books(
    info: Info[Context, None],
    book_id: strawberry.ID,
    first: int,
    category_id: strawberry.ID | None = None,
    exclude_book_ids: list[strawberry.ID] | None = None,
) -> list[Recommendation]:
    ctx = info.context
    wanted = selected_names(info)
    request = recommendation_request(wanted, first, category_id, exclude_book_ids)
    book = parse_id(book_id, "book id")
    claim = ctx.viewer_claim()
    model, variant = ctx.served_model()
    try:
        found = await ctx.services.recommendations.similar(
            book,
            request,
            model,
            user_id=claim.user_id if claim else None,
            with_categories="categories" in wanted,
            token_epoch=claim.epoch if claim else None,
            variant=variant,
            with_like_counts="likeCount" in wanted,
        )
    except DataError as exc:
        raise from_data_error(exc) from None
    if found is None:
        raise Unauthenticated(SESSION_ENDED)
    return Recommendation.page(found)


def resolve_model_info(info: Info[Context, None]) -> ModelInfo | None:
    model = info.context.model()
    if model is None:
        return None
    manifest = model.manifest
    created = manifest.get("created_at")
    return ModelInfo(
        version=model.version,
        created_at=datetime.fromisoformat(created).astimezone(UTC) if created else None,
        architecture=model.architecture,
        readers_known=model.n_users,
        books_known=model.n_books,
        holdout_metrics=manifest.get("metrics", {}),
        baseline_metrics=manifest.get("baseline_metrics", {}),
    )
