"""The model a server is serving now, following the model store's CURRENT pointer.

A new current version is loaded and verified off the request path, then swapped in with a
single assignment; a version that fails its checks is refused (logged, reported in
`status()`) and the previous model keeps serving. A store that cannot be reached (its
database restarting) is tried again at the next poll, and a host that was down during a
publish catches up at its first poll: only the pointer's state is compared, never events."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artifact import ArtifactError, DirectoryStore, Store
from inference.recommender import Recommender

log = logging.getLogger("bookrec.model")


@dataclass(frozen=True)
class Refusal:
    version: str | None
    reason: str
    at: float


class LiveModel:
    def __init__(self, store: Store | str | Path, threads: int = 1) -> None:
        """`store`: the model store (a path means a models directory)."""
        self.store = store if isinstance(store, Store) else DirectoryStore(store)
        self.threads = threads
        self.current: Recommender | None = None
        self.last_refusal: Refusal | None = None
        self._seen: tuple[str, int] | None = None  # pointer state last acted on
        self._lock = threading.Lock()
        # An experiment's variant version, served beside the current one to its readers.
        self.variant: Recommender | None = None
        self._variant_tried: str | None = None  # the version last loaded (or refused)
        self.variant_refusal: Refusal | None = None

    def refresh(self) -> bool:
        """Blocking: load the CURRENT version if it changed. True if a new model is live."""
        with self._lock:
            try:
                state = self.store.pointer_state()
            except Exception as exc:  # e.g. the database store's server is restarting
                log.warning("cannot read the model store's CURRENT (%s); keeping the model", exc)
                return False
            if state is None or state == self._seen:
                return False
            try:
                version = self.store.current()
                if version is None:
                    return False
                if self.current is not None and self.current.version == version:
                    self._seen = state
                    self.last_refusal = None  # pointed back at what is serving: all is well
                    return False
                path = self.store.path(version)  # the database store downloads it here
            except ArtifactError as exc:
                return self._refuse(state, exc)
            except Exception as exc:  # the store unreachable: tried again at the next poll
                log.warning(
                    "cannot fetch model %s from %s (%s); will retry", state[0], self.store, exc
                )
                return False
            try:
                model = Recommender.load(path, threads=self.threads)
            except ArtifactError as exc:
                return self._refuse(state, exc)
            except Exception as exc:  # an artifact must never take the server down
                self._seen = state
                self.last_refusal = Refusal(state[0], f"{type(exc).__name__}: {exc}", time.time())
                log.exception("could not load model %s; keeping the current one", state[0])
                return False
            self._seen = state
            previous = self.current.version if self.current else None
            self.current = model
            self.last_refusal = None
            log.info("serving model %s (was %s)", model.version, previous or "none")
            return True

    def follow_variant(self, version: str | None) -> bool:
        """Blocking: serve `version` as the experiment's variant (None: no experiment).
        Loaded and verified like CURRENT, off the request path, through the store; a version
        that fails its checks is refused once (logged, in `status()`) and not tried again
        until the experiment names another. True if a new variant model is live."""
        with self._lock:
            if version is None:
                if self.variant is not None:
                    log.info("experiment over: no longer serving variant %s", self.variant.version)
                self.variant, self._variant_tried, self.variant_refusal = None, None, None
                return False
            if version == self._variant_tried:
                return False
            self._variant_tried = version
            try:
                model = Recommender.load(self.store.path(version), threads=self.threads)
            except Exception as exc:  # never takes the server down: variant readers get control
                self.variant = None
                self.variant_refusal = Refusal(version, f"{type(exc).__name__}: {exc}", time.time())
                log.error(
                    "refused experiment variant %s: %s (its readers get control)", version, exc
                )
                return False
            self.variant, self.variant_refusal = model, None
            log.info("serving experiment variant %s", version)
            return True

    def _refuse(self, state: tuple[str, int], exc: ArtifactError) -> bool:
        self._seen = state  # refused for good: not tried again until CURRENT moves
        self.last_refusal = Refusal(state[0], str(exc), time.time())
        serving = self.current.version if self.current else "none"
        log.error("refused model %s: %s (still serving: %s)", state[0], exc, serving)
        return False

    def status(self) -> dict[str, Any]:
        model = self.current
        refusal = self.last_refusal
        return {
            "version": model.version if model else None,
            "store": self.store.kind,
            "refused": None
            if refusal is None
            else {"version": refusal.version, "reason": refusal.reason, "at": refusal.at},
            "variant": self.variant.version if self.variant else None,
            "variant_refused": None
            if self.variant_refusal is None
            else {"version": self.variant_refusal.version, "reason": self.variant_refusal.reason},
        }
