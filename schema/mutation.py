"""Write operations. Every write acts as the token's reader; none takes a user id."""

from __future__ import annotations

import logging

import anyio.to_thread
import strawberry
from strawberry.types import Info

from db import accounts, ratings, readers, throttle
from db.errors import InvalidInput
from db.models import FEEDBACK_DISLIKED, FEEDBACK_LIKED
from db.models import User as UserRow
from schema.auth import TokenClaim, check_password, check_username
from schema.context import SESSION_ENDED, Context
from schema.errors import BadUserInput, Unauthenticated, from_data_error, parse_id
from schema.loaders import forget
from schema.online import open_book
from schema.staff import (
    BookInput,
    ModelVersion,
    resolve_add_book,
    resolve_add_category,
    resolve_rollback_model,
    resolve_set_book_categories,
    resolve_set_book_hidden,
    resolve_update_book,
)
from schema.types import AuthPayload, Book, Category, Rating, User

log = logging.getLogger("bookrec.auth")

MAX_CATEGORIES = 50
BAD_CREDENTIALS = "Unknown username or wrong password."
WRONG_PASSWORD = "The password is wrong."


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
        return _signed_in(ctx, user)

    @strawberry.mutation(description="Sign in; the token goes in 'Authorization: Bearer'.")
    async def login(self, info: Info[Context, None], username: str, password: str) -> AuthPayload:
        ctx = info.context
        await ctx.services.throttle.reserve(ctx.db_own_transaction, username)
        # Looked up apart from the operation's write transaction: the password check that
        # follows is slow, and must not hold SQLite's write lock while it runs.
        user = await ctx.db_apart(readers.find_by_username, username)
        ok = await _password_matches(ctx, user, password, username)
        if not ok or user is None:
            raise Unauthenticated(BAD_CREDENTIALS)
        await ctx.services.throttle.succeeded(ctx.db_own_transaction, username)
        return _signed_in(ctx, user)

    @strawberry.mutation(
        description="Change your password; returns a new token. Every other token of the "
        "account stops working, on every server."
    )
    async def change_password(
        self, info: Info[Context, None], old_password: str, new_password: str
    ) -> AuthPayload:
        ctx = info.context
        check_password(new_password)
        if new_password == old_password:
            raise BadUserInput("The new password must differ from the old one.")
        claim, user = await _confirm_password(ctx, old_password)
        new_hash = await anyio.to_thread.run_sync(ctx.services.passwords.hash, new_password)
        changed = await ctx.db(readers.change_password, claim.user_id, claim.epoch, new_hash)
        if changed is None:  # a concurrent change (or deletion) with the same session won
            raise Unauthenticated(SESSION_ENDED)
        # In this operation's transaction: kept only if the change is.
        await ctx.services.throttle.succeeded(ctx.db, user.username)
        return _signed_in(ctx, changed)

    @strawberry.mutation(
        description="Delete your account and everything of yours (ratings, likes and "
        "dislikes, categories, recorded lists); your tokens stop working. No undo."
    )
    async def delete_account(self, info: Info[Context, None], password: str) -> bool:
        ctx = info.context
        claim, user = await _confirm_password(ctx, password)
        deleted = await ctx.db(accounts.delete_account, claim.user_id, claim.epoch)
        if not deleted:
            raise Unauthenticated(SESSION_ENDED)
        await ctx.db(throttle.clear, user.username_key)
        return True

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

    # Staff only (schema/staff.py): FORBIDDEN for readers, UNAUTHENTICATED for anonymous.
    @strawberry.mutation(description="Staff: add a book (visible, with its categories).")
    async def add_book(self, info: Info[Context, None], input: BookInput) -> Book:
        return await resolve_add_book(info, input)

    @strawberry.mutation(
        description="Staff: replace a book's fields (its categories too, if given)."
    )
    async def update_book(
        self, info: Info[Context, None], id: strawberry.ID, input: BookInput
    ) -> Book:
        return await resolve_update_book(info, id, input)

    @strawberry.mutation(
        description="Staff: hide a book from readers (never listed or recommended; its "
        "ratings kept), or show it again."
    )
    async def set_book_hidden(
        self, info: Info[Context, None], id: strawberry.ID, hidden: bool
    ) -> Book:
        return await resolve_set_book_hidden(info, id, hidden)

    @strawberry.mutation(description="Staff: replace a book's categories.")
    async def set_book_categories(
        self, info: Info[Context, None], id: strawberry.ID, category_ids: list[strawberry.ID]
    ) -> Book:
        return await resolve_set_book_categories(info, id, category_ids)

    @strawberry.mutation(description="Staff: add a category (CONFLICT if the name exists).")
    async def add_category(self, info: Info[Context, None], name: str) -> Category:
        return await resolve_add_category(info, name)

    @strawberry.mutation(
        description="Staff: make the newest older model version that loads current again "
        "(as `bookrec model rollback`); returns the new current version."
    )
    async def rollback_model(self, info: Info[Context, None]) -> ModelVersion:
        return await resolve_rollback_model(info)


def _signed_in(ctx: Context, user: UserRow) -> AuthPayload:
    assert user.id is not None
    token = ctx.services.tokens.issue(user.id, user.token_epoch)
    return AuthPayload(token=token, user=User.from_row(user))


async def _password_matches(
    ctx: Context, user: UserRow | None, password: str, username: str
) -> bool:
    """The (slow) password check, in a worker thread; every failure is logged (the budget
    the throttle allows is what an attacker gets: the log shows it being spent)."""
    ok = await anyio.to_thread.run_sync(
        ctx.services.passwords.verify, user.password_hash if user else None, password
    )
    if not (ok and user is not None):
        log.info("password checked and refused for username %r", username[:64])
    return ok and user is not None


async def _confirm_password(ctx: Context, password: str) -> tuple[TokenClaim, UserRow]:
    """For account operations: the token's account, checked against the database, and its
    password confirmed, under the sign-in throttle (a wrong password counts as a failed
    sign-in). Everything before the operation's own transaction begins (see
    Context.db_own_transaction)."""
    claim = ctx.require_claim()
    user = await ctx.db_apart(readers.session_user, claim.user_id, claim.epoch)
    if user is None:
        raise Unauthenticated(SESSION_ENDED)
    await ctx.services.throttle.reserve(ctx.db_own_transaction, user.username)
    if not await _password_matches(ctx, user, password, user.username):
        raise BadUserInput(WRONG_PASSWORD)
    return claim, user


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
