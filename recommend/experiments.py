"""Who is in an experiment's variant group: a stable hash of (experiment salt, reader id)
below the share. Stable across requests, server processes, hosts and restarts (nothing is
stored per reader); a new experiment has a new salt, so groups are drawn afresh.
Anonymous readers are always control: there is no one to keep in a group."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

CONTROL = "control"
VARIANT = "variant"


def new_salt() -> str:
    return secrets.token_hex(16)


def bucket(salt: str, user_id: int) -> float:
    """A number in [0, 1), uniform over readers, fixed for (salt, reader)."""
    digest = hashlib.sha256(f"{salt}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class Assignment:
    """The running experiment as a server follows it."""

    id: int
    version: str
    share: float
    salt: str

    def group(self, user_id: int | None) -> str:
        if user_id is None:
            return CONTROL
        return VARIANT if bucket(self.salt, user_id) < self.share else CONTROL
