"""Per-request context: the unit of work, the dataloaders, and who is asking."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from db import readers
from db.errors import DataError
from db.popularity import PopularityCache
from db.session import UnitOfWork
from inference import Recommender
from inference.live import LiveModel
from recommend import RecommendationService
from schema.auth import LoginThrottle, Passwords, Tokens
from schema.errors import Forbidden, Unauthenticated, from_data_error
from schema.loaders import Loaders

T = TypeVar("T")


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
    _viewer_id: int | None = field(default=None, init=False)
    _viewer_checked: bool = field(default=False, init=False)
    _model: Recommender | None = field(default=None, init=False)
    _model_taken: bool = field(default=False, init=False)
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

    def model(self) -> Recommender | None:
        """The model serving this request: taken once, so one response never mixes two
        versions even if a new one goes live while it is being resolved."""
        if not self._model_taken:
            self._model = self.services.recommendations.model()
            self._model_taken = True
        return self._model

    def served_model(self) -> tuple[Recommender | None, str]:
        """The model serving this request's reader and their experiment group ("control"
        or "variant"), taken once like `model()`."""
        if self._served is None:
            self._served = self.services.recommendations.model_for(self.viewer_id())
        return self._served

    def viewer_id(self) -> int | None:
        """The signed-in reader's id, None when anonymous; a bad token is an error, not
        anonymity, so that a client learns its session is over."""
        if not self._viewer_checked:
            self._viewer_id = self._authenticate()
            self._viewer_checked = True
        return self._viewer_id

    def require_viewer(self) -> int:
        viewer = self.viewer_id()
        if viewer is None:
            raise Unauthenticated("Sign in to do this.")
        return viewer

    async def require_existing_viewer(self) -> int:
        """The signed-in reader, checked against the database (an account may be deleted
        while its token is still valid)."""
        viewer = self.require_viewer()
        if await self.db(readers.find_user, viewer) is None:
            raise Unauthenticated("This account no longer exists; sign in again.")
        return viewer

    async def require_staff(self) -> int:
        """The signed-in reader if their account is staff now (read from the database, so
        revoking the role takes effect on the next request); FORBIDDEN for anyone else."""
        viewer = self.require_viewer()
        user = await self.db(readers.find_user, viewer)
        if user is None:
            raise Unauthenticated("This account no longer exists; sign in again.")
        if not user.is_staff:
            raise Forbidden("Only staff may do this.")
        return viewer

    def _authenticate(self) -> int | None:
        if not self.authorization:
            return None
        scheme, _, token = self.authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("Send the token as 'Authorization: Bearer <token>'.")
        return self.services.tokens.verify(token.strip())
