"""Per-request context: the unit of work, the dataloaders, and who is asking."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar


from db.errors import DataError
from db.session import UnitOfWork
from schema.auth import LoginThrottle, Passwords, Tokens
from schema.errors import Unauthenticated, from_data_error
from schema.loaders import Loaders

T = TypeVar("T")


@dataclass
class Services:
    """Long-lived collaborators, built once by the composition root."""

    passwords: Passwords
    tokens: Tokens
    throttle: LoginThrottle
    recommender: Any = None  # inference model holder, wired by the recommendations feature


@dataclass
class Context:
    services: Services
    uow: UnitOfWork
    authorization: str | None
    loaders: Loaders = field(init=False)
    _viewer_id: int | None = field(default=None, init=False)
    _viewer_checked: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.db)

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a `db/` function in this operation's transaction; its expected failures
        become GraphQL errors with codes."""
        try:
            return await self.uow.run(fn, *args)
        except DataError as exc:
            raise from_data_error(exc) from None

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

    def _authenticate(self) -> int | None:
        if not self.authorization:
            return None
        scheme, _, token = self.authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("Send the token as 'Authorization: Bearer <token>'.")
        return self.services.tokens.verify(token.strip())
