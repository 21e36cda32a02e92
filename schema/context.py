"""Per-request context: the unit of work, the dataloaders, and who is asking."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from db import readers
from db.errors import DataError
from db.models import User
from db.popularity import PopularityCache
from db.session import UnitOfWork
from inference import Recommender
from inference.live import LiveModel
from recommend import RecommendationService
from schema.auth import LoginThrottle, Passwords, TokenClaim, Tokens
from schema.errors import BadUserInput, Forbidden, Unauthenticated, from_data_error
from schema.loaders import Loaders

T = TypeVar("T")

SESSION_ENDED = (
    "This session has ended (the password was changed or the account deleted); sign in again."
)


@dataclass
class Services:
    """Long-lived collaborators, built once by the composition root."""

    passwords: Passwords
    tokens: Tokens
    throttle: LoginThrottle
    popularity: PopularityCache
    recommendations: RecommendationService
    live_model: LiveModel | None = None
    attribution_days: float = 7.0  # outcomes after a showing count this long (online metrics)


@dataclass
class Context:
    services: Services
    uow: UnitOfWork
    authorization: str | None
    # Set by the view: a deadlock or serialisation failure of this mutation will be run
    # again (a fresh context, a fresh unit of work), so it is not this attempt's answer.
    retry_transient: bool = False
    # Set by UnitOfWorkExtension: the SQLSTATE that rolled this mutation back, if any.
    transient_failure: str | None = field(default=None, init=False)
    loaders: Loaders = field(init=False)
    _claim: TokenClaim | None = field(default=None, init=False)
    _claim_checked: bool = field(default=False, init=False)
    _viewer_row: asyncio.Task[User | None] | None = field(default=None, init=False)
    _model: Recommender | None = field(default=None, init=False)
    _model_taken: bool = field(default=False, init=False)
    # Run by UnitOfWorkExtension once this mutation's transaction committed (never if it
    # rolled back): e.g. refresh this process's popularity snapshot after a catalog edit.
    after_commit: list[Callable[[], None]] = field(default_factory=list, init=False)
    _served: tuple[Recommender | None, str] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.db)

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a `db/` function in this operation's transaction; its expected failures
        become GraphQL errors with codes."""
        try:
            return await self.uow.run(fn, *args)
        except DataError as exc:
            raise from_data_error(exc) from None

    async def db_apart(self, fn: Callable[..., T], *args: Any) -> T:
        """Like `db`, in a short read-only transaction of its own (see UnitOfWork.read_apart)."""
        try:
            return await self.uow.read_apart(fn, *args)
        except DataError as exc:
            raise from_data_error(exc) from None

    async def db_fast(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a read-only `db/` function of the hot read path in one worker-thread trip,
        in a read transaction of its own (a query's page that must be cheap)."""
        try:
            return await self.uow.read_fast(fn, *args)
        except DataError as exc:
            raise from_data_error(exc) from None

    def model(self) -> Recommender | None:
        """The model serving this request: taken once, so one response never mixes two
        versions even if a new one goes live while it is being resolved."""
        if not self._model_taken:
            self._model = self.services.recommendations.model()
            self._model_taken = True
        return self._model

    async def db_own_transaction(self, fn: Callable[..., T], *args: Any) -> T:
        """Like `db`, in a write transaction of its own, committed at once even if this
        operation fails later (the sign-in throttle's counts). Refused once this mutation's
        own transaction has begun: on SQLite it holds the write lock this would wait for,
        and on PostgreSQL it may hold the very row."""
        if self.uow.began:
            raise BadUserInput(
                "Sign-in and account operations must come first in a mutation: "
                "send this one before any other change, or on its own."
            )
        try:
            return await self.uow.write_apart(fn, *args)
        except DataError as exc:
            raise from_data_error(exc) from None

    def served_model(self) -> tuple[Recommender | None, str]:
        """The model serving this request's reader and their experiment group ("control"
        or "variant"), taken once like `model()`. The group comes from the token's user id;
        whether the account still honours the token is checked where the reader is read."""
        if self._served is None:
            claim = self.viewer_claim()
            self._served = self.services.recommendations.model_for(claim.user_id if claim else None)
        return self._served

    def viewer_claim(self) -> TokenClaim | None:
        """What the request's token says (signature and expiry checked, None when
        anonymous); NOT yet whether the account still honours it. Callers either check that
        themselves in a read they make anyway (recommendations: db.readers.reader_state),
        or use `viewer` / `signed_in_id`. A bad token is an error, not anonymity, so that a
        client learns its session is over."""
        if not self._claim_checked:
            self._claim = self._authenticate()
            self._claim_checked = True
        return self._claim

    def require_claim(self) -> TokenClaim:
        claim = self.viewer_claim()
        if claim is None:
            raise Unauthenticated("Sign in to do this.")
        return claim

    async def viewer(self, apart: bool = False) -> User | None:
        """The signed-in reader's account, checked against the database once per request
        (it exists, and the token is of its current epoch: no password change since);
        None when anonymous. One primary-key read, shared by every field that asks.
        `apart`: read outside a mutation's write transaction (see `db_apart`)."""
        claim = self.viewer_claim()
        if claim is None:
            return None
        if self._viewer_row is None:
            read = self.db_apart if apart else self.db
            self._viewer_row = asyncio.ensure_future(
                read(readers.session_user, claim.user_id, claim.epoch)
            )
        user = await asyncio.shield(self._viewer_row)
        if user is None:
            raise Unauthenticated(SESSION_ENDED)
        return user

    # (The synchronous `viewer_id()` / `require_viewer()` of before are gone on purpose:
    # they trusted the token alone. Code written against them fails loudly, not silently.)

    async def signed_in_id(self) -> int | None:
        """The signed-in reader's id, checked against the database (see `viewer`); None
        when anonymous."""
        user = await self.viewer()
        return None if user is None else user.id

    async def require_existing_viewer(self) -> int:
        """The signed-in reader's id, checked against the database (see `viewer`): the
        account exists and the token predates no password change."""
        user = await self.viewer()
        if user is None or user.id is None:
            raise Unauthenticated("Sign in to do this.")
        return user.id

    async def require_staff(self, apart: bool = False) -> int:
        """The signed-in reader if their account is staff now (read from the database, so
        revoking the role takes effect on the next request); FORBIDDEN for anyone else.
        `apart`: read outside a mutation's write transaction (see `db_apart`)."""
        user = await self.viewer(apart)
        if user is None or user.id is None:
            raise Unauthenticated("Sign in to do this.")
        if not user.is_staff:
            raise Forbidden("Only staff may do this.")
        return user.id

    async def is_staff(self) -> bool:
        """Whether the caller is a staff account now (False when anonymous): for fields that
        show staff more (a hidden book), where readers get what anyone gets, not an error."""
        if self.viewer_claim() is None:
            return False
        user = await self.viewer()
        return user is not None and user.is_staff

    def _authenticate(self) -> TokenClaim | None:
        if not self.authorization:
            return None
        scheme, _, token = self.authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("Send the token as 'Authorization: Bearer <token>'.")
        return self.services.tokens.verify(token.strip())
