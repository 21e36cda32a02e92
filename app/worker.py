"""`bookrec worker`: retraining by itself, one lease-holding process at a time.

Each check (every BOOKREC_WORKER_POLL_SECONDS, or once with `--once`) takes the `retrain`
lease in the database (db.leases; a worker that cannot take it does nothing), decides
whether a retrain is due, and if so runs the same pipeline and gate as `bookrec train`
(the training function is passed in by the CLI: only the CLI imports `training`). Due:

- `new-ratings`: at least BOOKREC_RETRAIN_AFTER_RATINGS ratings stored or changed after
  the later of the current version's `ratings_high_water` (the newest rating it saw) and
  the start of the last run (so a rejected or failed run waits for new data, not the next
  poll);
- `schedule`: BOOKREC_RETRAIN_EVERY_HOURS since the later of the last run's start and the
  current version's creation (no version at all: due at once if there are ratings);
- `manual`: `bookrec worker --once --now`.

Every run is a `training_run` row (db.training_runs), written when it starts and when it
ends; the lease is renewed by a thread while training, and checked once more just before
CURRENT switches (a worker that lost it never publishes). SIGTERM while training abandons
the run (recorded failed, the staged version removed, nothing published); at any other
moment it stops the loop after the current step. The lease is released on the way out.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from sqlalchemy.engine import Engine

from artifact import ArtifactError, DirectoryStore, Store
from db import leases
from db import training_runs as runs
from db.ratings import count_ratings_since

log = logging.getLogger("bookrec.worker")

LEASE = "retrain"


class TrainOutcome(Protocol):
    version: str
    published: bool
    gate: str
    mode: str
    mode_reason: str


# (cold, before_publish) -> the pipeline's result; raises on failure
TrainFunction = Callable[[bool, Callable[[], None]], TrainOutcome]


class LeaseLost(RuntimeError):
    """Another worker took the lease while this one trained: do not publish."""


class Abandoned(BaseException):
    """SIGTERM while training (a BaseException: nothing in the pipeline may swallow it)."""


@dataclass(frozen=True)
class Schedule:
    every_hours: float  # 0: no schedule
    after_ratings: int  # 0: no new-ratings trigger
    poll_seconds: float
    lease_seconds: float


@dataclass(frozen=True)
class Due:
    trigger: str
    new_ratings: int


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class RetrainWorker:
    def __init__(
        self,
        engine: Engine,
        store: Store | Path,
        train: TrainFunction,
        schedule: Schedule,
        holder: str | None = None,
    ) -> None:
        self.engine = engine
        self.store = store if isinstance(store, Store) else DirectoryStore(store)
        self.train = train
        self.schedule = schedule
        self.holder = holder or holder_name()
        self.stop = threading.Event()
        self._abandonable = False  # True while the pipeline runs, until just before publish

    # ------------------------------------------------------------------ deciding
    def _current_marks(self) -> tuple[datetime | None, datetime | None]:
        """(ratings high water, created_at) of the current version (None, None: none)."""
        current = self.store.current()
        if current is None:
            return None, None
        try:
            manifest = self.store.manifest(current)
        except ArtifactError:
            return None, None
        created = _parse_time(manifest.get("created_at"))
        # versions trained before the high water was recorded: their creation time
        return _parse_time(manifest.get("ratings_high_water")) or created, created

    def new_ratings(self) -> int:
        """Ratings stored or changed after the later of the current version's high water
        and the start of the last run."""
        high_water, _ = self._current_marks()
        last_run = runs.last_started_at(self.engine)
        since = max((t for t in (high_water, last_run) if t is not None), default=None)
        return count_ratings_since(self.engine, since)

    def due(self, now: datetime | None = None) -> Due | None:
        now = now or datetime.now(UTC)
        _, created = self._current_marks()
        last_run = runs.last_started_at(self.engine)
        new = self.new_ratings()
        if self.schedule.after_ratings and new >= self.schedule.after_ratings:
            return Due("new-ratings", new)
        if self.schedule.every_hours:
            last = max((t for t in (last_run, created) if t is not None), default=None)
            if last is None:
                if count_ratings_since(self.engine, None) > 0:
                    return Due("schedule", new)
            elif now - last >= timedelta(hours=self.schedule.every_hours):
                return Due("schedule", new)
        return None

    # ------------------------------------------------------------------ running
    @contextlib.contextmanager
    def _renewing(self) -> Iterator[threading.Event]:
        """Renew the lease every third of its duration while the block runs; the event
        is set once a renewal found the lease gone."""
        lost, done = threading.Event(), threading.Event()

        def renew() -> None:
            while not done.wait(self.schedule.lease_seconds / 3):
                try:
                    if not leases.renew(
                        self.engine, LEASE, self.holder, self.schedule.lease_seconds
                    ):
                        log.error("lost the %s lease while training", LEASE)
                        lost.set()
                        return
                except Exception:  # the database blinked: try again next time
                    log.warning("could not renew the %s lease", LEASE, exc_info=True)

        thread = threading.Thread(target=renew, name="lease-renewer", daemon=True)
        thread.start()
        try:
            yield lost
        finally:
            done.set()
            thread.join()

    def run_once(self, manual: bool = False, cold: bool = False) -> runs.Run | None:
        """One check: take the lease, train if due (or `manual`), record the run. None when
        nothing ran (lease held elsewhere, or not due)."""
        if not leases.acquire(self.engine, LEASE, self.holder, self.schedule.lease_seconds):
            held = leases.holder_of(self.engine, LEASE)
            log.info("another worker holds the %s lease (%s): not training", LEASE, held)
            return None
        try:
            abandoned = runs.fail_abandoned_runs(
                self.engine, "abandoned: its worker stopped without finishing it"
            )
            if abandoned:
                log.warning("marked %d abandoned training run(s) failed", abandoned)
            due = Due("manual", self.new_ratings()) if manual else self.due()
            if due is None:
                log.info("no retraining due")
                return None
            return self._run(due, cold)
        finally:
            leases.release(self.engine, LEASE, self.holder)

    def _run(self, due: Due, cold: bool) -> runs.Run:
        run_id = runs.start_run(self.engine, due.trigger, self.holder, None, due.new_ratings)
        log.info(
            "training run %d started (trigger %s, %d new ratings)",
            run_id,
            due.trigger,
            due.new_ratings,
        )
        with self._renewing() as lost:

            def before_publish() -> None:
                self._abandonable = False  # from here on the run finishes
                if lost.is_set() or not leases.renew(
                    self.engine, LEASE, self.holder, self.schedule.lease_seconds
                ):
                    raise LeaseLost("the retraining lease was lost: not publishing")

            try:
                self._abandonable = True
                if self.stop.is_set():
                    raise Abandoned
                outcome = self.train(cold, before_publish)
            except Abandoned:
                log.warning("training run %d abandoned (SIGTERM); nothing published", run_id)
                runs.finish_run(self.engine, run_id, "failed", error="abandoned: SIGTERM")
                raise
            except Exception as exc:
                log.exception("training run %d failed; the serving model stays", run_id)
                runs.finish_run(self.engine, run_id, "failed", error=f"{type(exc).__name__}: {exc}")
                return self._get(run_id)
            finally:
                self._abandonable = False
        status = "published" if outcome.published else "rejected-by-gate"
        runs.finish_run(
            self.engine,
            run_id,
            status,
            version=outcome.version,
            gate_decision=outcome.gate,
            mode=outcome.mode,
        )
        log.info(
            "training run %d %s: %s (%s; %s)",
            run_id,
            status,
            outcome.version,
            outcome.gate,
            outcome.mode_reason or outcome.mode,
        )
        return self._get(run_id)

    def _get(self, run_id: int) -> runs.Run:
        run = runs.get_run(self.engine, run_id)
        assert run is not None
        return run

    def run_forever(self, cold: bool = False) -> None:
        log.info(
            "worker %s: every %s h, after %s new ratings, checking every %s s",
            self.holder,
            self.schedule.every_hours or "-",
            self.schedule.after_ratings or "-",
            self.schedule.poll_seconds,
        )
        while not self.stop.is_set():
            try:
                self.run_once(cold=cold)
            except Abandoned:
                break
            except Exception:  # the database is down, say: log and try at the next check
                log.exception(
                    "worker check failed; trying again in %s s", self.schedule.poll_seconds
                )
            self.stop.wait(self.schedule.poll_seconds)
        log.info("worker %s stopped", self.holder)

    # ------------------------------------------------------------------ signals
    def handle_signals(self) -> None:
        """SIGTERM/SIGINT: abandon a run in progress, else stop after the current step."""

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("worker got signal %d: stopping", signum)
            self.stop.set()
            if self._abandonable:
                self._abandonable = False
                raise Abandoned

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
