"""Write operations. Every write acts as the token's reader; none takes a user id."""

from __future__ import annotations

import anyio.to_thread
import strawberry
from strawberry.types import Info

from db import ratings, readers
from db.errors import InvalidInput
from db.models import FEEDBACK_DISLIKED, FEEDBACK_LIKED
from schema.auth import check_password, check_username
from schema.context import Context
from schema.errors import BadUserInput, Unauthenticated, from_data_error, parse_id
from schema.loaders import forget
from schema.online import open_book
from schema.types import AuthPayload, Book, Rating, User

MAX_CATEGORIES = 50
BAD_CREDENTIALS = "Unknown username or wrong password."


def _category_ids(ids: list[strawberry.ID]) -> list[int]:
    if len(ids) > MAX_CATEGORIES:
        raise BadUserInput(f"Choose at most {MAX_CATEGORIES} categories.")
    return [parse_id(i, "category id") for i in ids]


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create an account and sign in.")
    async def register(
        self,
        info: Info[Context, None],
        username: str,
        password: str,
        category_ids: list[strawberry.ID] = [],  # noqa: B006  (never mutated)
    ) -> AuthPayload:
        ctx = info.context
        check_username(username)
        check_password(password)
        categories = _category_ids(category_ids)
        password_hash = await anyio.to_thread.run_sync(ctx.services.passwords.hash, password)
        user = await ctx.db(readers.create_user, username, password_hash, categories)
        assert user.id is not None
        return AuthPayload(token=ctx.services.tokens.issue(user.id), user=User.from_row(user))

    @strawberry.mutation(description="Sign in; the token goes in 'Authorization: Bearer'.")
    async def login(self, info: Info[Context, None], username: str, password: str) -> AuthPayload:
        ctx = info.context
        key = readers.username_key(username)
        ctx.services.throttle.reserve(key)
        # Looked up apart from the operation's write transaction: the password check that
        # follows is slow, and must not hold SQLite's write lock while it runs.
        user = await ctx.db_apart(readers.find_by_username, username)
        ok = await anyio.to_thread.run_sync(
            ctx.services.passwords.verify, user.password_hash if user else None, password
        )
        if not ok or user is None or user.id is None:
            raise Unauthenticated(BAD_CREDENTIALS)
        ctx.services.throttle.succeeded(key)
        return AuthPayload(token=ctx.services.tokens.issue(user.id), user=User.from_row(user))

    @strawberry.mutation(description="Rate a book from 0.5 to 5 stars in half steps.")
    async def rate_book(
        self, info: Info[Context, None], book_id: strawberry.ID, stars: float
    ) -> Rating:
        ctx = info.context
        book = parse_id(book_id, "book id")
        half_stars = _half_stars(stars)
        viewer = await ctx.require_existing_viewer()
        row = await ctx.db(ratings.rate, viewer, book, half_stars)
        return Rating.from_row(row)

    @strawberry.mutation(description="Remove your rating; false if there was none.")
    async def delete_rating(self, info: Info[Context, None], book_id: strawberry.ID) -> bool:
        ctx = info.context
        book = parse_id(book_id, "book id")
        viewer = await ctx.require_existing_viewer()
        return await ctx.db(ratings.delete_rating, viewer, book)

    @strawberry.mutation
    async def like_book(self, info: Info[Context, None], book_id: strawberry.ID) -> Book:
        return await _feedback(info.context, book_id, FEEDBACK_LIKED)

    @strawberry.mutation(description="Never recommend this book to me.")
    async def dislike_book(self, info: Info[Context, None], book_id: strawberry.ID) -> Book:
        return await _feedback(info.context, book_id, FEEDBACK_DISLIKED)

    @strawberry.mutation(description="Forget my like or dislike of this book.")
    async def clear_feedback(self, info: Info[Context, None], book_id: strawberry.ID) -> Book:
        return await _feedback(info.context, book_id, None)

    @strawberry.mutation(
        description="Report that the reader opened a book from a served list (its listId). "
        "Anonymous callers may report on lists served anonymously only; true if recorded, "
        "false if this open was reported before."
    )
    async def open_book(
        self, info: Info[Context, None], book_id: strawberry.ID, list_id: strawberry.ID
    ) -> bool:
        return await open_book(info, book_id, list_id)

    @strawberry.mutation
    async def set_favorite_categories(
        self, info: Info[Context, None], category_ids: list[strawberry.ID]
    ) -> User:
        ctx = info.context
        categories = _category_ids(category_ids)
        viewer = await ctx.require_existing_viewer()
        await ctx.db(readers.set_categories, viewer, categories)
        forget(ctx.loaders.user_categories, viewer)
        return User.from_row(await ctx.db(readers.get_user, viewer))


def _half_stars(stars: float) -> int:
    try:
        return ratings.stars_to_half_stars(stars)
    except InvalidInput as exc:
        raise from_data_error(exc) from None


async def _feedback(ctx: Context, book_id: strawberry.ID, kind: str | None) -> Book:
    book = parse_id(book_id, "book id")
    viewer = await ctx.require_existing_viewer()
    row = await ctx.db(ratings.set_feedback, viewer, book, kind)
    forget(ctx.loaders.viewer_feedback, (viewer, book))
    forget(ctx.loaders.book, book)
    return Book.from_row(row)
