"""The model a server is serving now, following the model store's CURRENT pointer.

A new current version is loaded and verified off the request path, then swapped in with a
single assignment; a version that fails its checks is refused (logged, reported in
`status()`) and the previous model keeps serving."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artifact import ArtifactError, ModelStore
from inference.recommender import Recommender

log = logging.getLogger("bookrec.model")


@dataclass(frozen=True)
class Refusal:
    version: str | None
    reason: str
    at: float


class LiveModel:
    def __init__(self, model_dir: str | Path, threads: int = 1) -> None:
        self.store = ModelStore(model_dir)
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
            state = self.store.pointer_state()
            if state is None or state == self._seen:
                return False
            self._seen = state
            try:
                version = self.store.current()
                if version is None:
                    return False
                if self.current is not None and self.current.version == version:
                    self.last_refusal = None  # pointed back at what is serving: all is well
                    return False
                model = Recommender.load(self.store.path(version), threads=self.threads)
            except ArtifactError as exc:
                self.last_refusal = Refusal(state[0], str(exc), time.time())
                serving = self.current.version if self.current else "none"
                log.error("refused model %s: %s (still serving: %s)", state[0], exc, serving)
                return False
            except Exception as exc:  # an artifact must never take the server down
                self.last_refusal = Refusal(state[0], f"{type(exc).__name__}: {exc}", time.time())
                log.exception("could not load model %s; keeping the current one", state[0])
                return False
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

    def status(self) -> dict[str, Any]:
        model = self.current
        refusal = self.last_refusal
        return {
            "version": model.version if model else None,
            "refused": None
            if refusal is None
            else {"version": refusal.version, "reason": refusal.reason, "at": refusal.at},
            "variant": self.variant.version if self.variant else None,
            "variant_refused": None
            if self.variant_refusal is None
            else {"version": self.variant_refusal.version, "reason": self.variant_refusal.reason},
        }
