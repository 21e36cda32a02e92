"""Passwords (Argon2id), signed expiring tokens (HS256 JWT) and sign-in throttling."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from db import readers, throttle
from schema.errors import BadUserInput, TooManyRequests, Unauthenticated, parse_key

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")
MIN_PASSWORD, MAX_PASSWORD = 8, 128
TOKEN_ALGORITHM = "HS256"
TOKEN_ISSUER = "bookrec"


def check_username(username: str) -> str:
    if not USERNAME_RE.match(username):
        raise BadUserInput("Usernames are 3 to 32 characters: letters, digits, '_', '.' or '-'.")
    return username


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise BadUserInput(f"Passwords are {MIN_PASSWORD} to {MAX_PASSWORD} characters long.")
    return password


class Passwords:
    """Argon2id. Hashing is deliberately slow: callers run it in a worker thread."""

    def __init__(self) -> None:
        self._hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
        # Verifying against this when the user does not exist keeps timing uniform.
        self._dummy_hash = self._hasher.hash("not-a-real-password")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._dummy_hash, password) and (
                password_hash is not None
            )
        except (VerificationError, InvalidHashError):
            return False


# Tokens already verified (signature, issuer, claims), kept with their expiry so that a
# reader's every request does not pay for HMAC and claim checks again; bounded, oldest out.
# Per process, and safe to be: it remembers only what the signature says (a pure function
# of the token and the key). Whether the token is still honoured (the account exists, no
# password change since) is asked of the database on every authenticated request.
VERIFIED_CACHE_SIZE = 4096


@dataclass(frozen=True)
class TokenClaim:
    """What a validly signed token says: the account, and its token epoch at issue (0 for
    tokens issued before epochs existed, which accounts made before them also have)."""

    user_id: int
    epoch: int


@dataclass(frozen=True)
class Tokens:
    secret: str
    ttl_seconds: int
    _verified: dict[str, tuple[TokenClaim, float]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def issue(self, user_id: int, epoch: int = 0) -> str:
        now = int(time.time())
        claims = {
            "sub": str(user_id),
            "ep": epoch,
            "iss": TOKEN_ISSUER,
            "iat": now,
            "exp": now + self.ttl_seconds,
        }
        return jwt.encode(claims, self.secret, algorithm=TOKEN_ALGORITHM)

    def verify(self, token: str) -> TokenClaim:
        """What the token says, if it is validly signed and not expired; Unauthenticated
        otherwise. (Not whether the account still honours it: see TokenClaim.)"""
        known = self._verified.get(token)
        if known is not None:
            claim, expires = known
            if time.time() < expires:  # PyJWT's rule: expired once now >= exp
                return claim
            self._verified.pop(token, None)
            raise Unauthenticated("Your session has expired; sign in again.")
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[TOKEN_ALGORITHM],
                issuer=TOKEN_ISSUER,
                options={"require": ["sub", "exp", "iat", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("Your session has expired; sign in again.") from None
        except jwt.PyJWTError:
            raise Unauthenticated("The access token is not valid; sign in again.") from None
        subject = claims.get("sub")
        user_id = parse_key(subject) if isinstance(subject, str) else None
        epoch = claims.get("ep", 0)
        if user_id is None or type(epoch) is not int or not 0 <= epoch < 2**63:
            raise Unauthenticated("The access token is not valid; sign in again.")
        claim = TokenClaim(user_id, epoch)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.pop(next(iter(self._verified), token), None)
        self._verified[token] = (claim, float(claims["exp"]))
        return claim


RunDb = Callable[..., Awaitable[Any]]
# How often a process deletes the throttle rows whose window has passed.
PRUNE_EVERY_SECONDS = 60.0


@dataclass
class LoginThrottle:
    """Refuses password checks for a username after repeated failures, for a cool-down
    period. The counts are in the database (`db.throttle`), shared by every process and
    host: N servers give an attacker no more guesses than one."""

    max_failures: int
    lockout_seconds: float
    _next_prune: float = field(default=0.0, repr=False)

    async def reserve(self, write_apart: RunDb, username: str) -> None:
        """Count an attempt as failed up front, atomically with the check, so that many
        concurrent attempts (aliases in one request, requests to other hosts) cannot slip
        past the limit. `write_apart` runs it in a transaction committed at once."""
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
            await write_apart(throttle.prune, self.lockout_seconds)
        wait = await write_apart(
            throttle.reserve_failure,
            readers.username_key(username),
            self.max_failures,
            self.lockout_seconds,
        )
        if wait is not None:
            raise TooManyRequests(
                f"Too many failed sign-in attempts; try again in {wait} seconds.",
                retryAfterSeconds=wait,
            )

    async def succeeded(self, run: RunDb, username: str) -> None:
        """The password was right: the count starts again (`run` decides the transaction)."""
        await run(throttle.clear, readers.username_key(username))
