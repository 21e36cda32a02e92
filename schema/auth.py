"""Passwords (Argon2id), signed expiring tokens (HS256 JWT) and sign-in throttling."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from schema.errors import BadUserInput, TooManyRequests, Unauthenticated

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
VERIFIED_CACHE_SIZE = 4096


@dataclass(frozen=True)
class Tokens:
    secret: str
    ttl_seconds: int
    _verified: dict[str, tuple[int, float]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def issue(self, user_id: int) -> str:
        now = int(time.time())
        claims = {
            "sub": str(user_id),
            "iss": TOKEN_ISSUER,
            "iat": now,
            "exp": now + self.ttl_seconds,
        }
        return jwt.encode(claims, self.secret, algorithm=TOKEN_ALGORITHM)

    def verify(self, token: str) -> int:
        """The user id the token was issued to; Unauthenticated if it is not valid now."""
        known = self._verified.get(token)
        if known is not None:
            user_id, expires = known
            if time.time() < expires:  # PyJWT's rule: expired once now >= exp
                return user_id
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
        if not isinstance(subject, str) or not subject.isdigit():
            raise Unauthenticated("The access token is not valid; sign in again.")
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.pop(next(iter(self._verified), token), None)
        self._verified[token] = (int(subject), float(claims["exp"]))
        return int(subject)


@dataclass
class LoginThrottle:
    """Refuses sign-in for an account after repeated failures, for a cool-down period.

    Kept per process: with N workers an attacker gets at most N times the budget."""

    max_failures: int
    lockout_seconds: float
    _failures: dict[str, list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reserve(self, key: str) -> None:
        """Count an attempt as failed up front, atomically with the check, so that many
        concurrent attempts (aliases in one request) cannot all slip past the limit."""
        with self._lock:
            recent = self._recent(key)
            if len(recent) >= self.max_failures:
                wait = int(recent[0] + self.lockout_seconds - time.monotonic()) + 1
                raise TooManyRequests(
                    f"Too many failed sign-in attempts; try again in {wait} seconds.",
                    retryAfterSeconds=wait,
                )
            recent.append(time.monotonic())

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _recent(self, key: str) -> list[float]:
        horizon = time.monotonic() - self.lockout_seconds
        recent = [t for t in self._failures.get(key, []) if t > horizon]
        self._failures[key] = recent
        return recent
