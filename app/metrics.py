"""Prometheus `/metrics` (BOOKREC_METRICS): what a shop's monitoring scrapes.

Multiprocess-safe: `bookrec serve` points PROMETHEUS_MULTIPROC_DIR at a fresh temporary
directory before any worker starts (and removes it when the server exits), so each worker
process writes its counters to its own memory-mapped files there and whichever worker
answers `GET /metrics` reports the sum over all of them (prometheus-client's multiprocess
mode). Without the variable (tests, embedders) the values live in this process.

Families (all prefixed `bookrec_`):
- `graphql_requests_total{operation,outcome}` and `graphql_request_seconds{operation}`:
  operation = the operation's root field names (e.g. `recommendations`, `rate`), outcome =
  `ok` or the first error's `extensions.code`;
- `lists_served_total{kind,source,variant}`: lists by the chain step of their first pick
  and their A/B variant ("control" unless an experiment says otherwise);
  `list_positions_total{source,variant}`: the books in them, by chain step;
- `model_version_served{version}`: 1 for each version some worker serves;
- `list_buffer_depth` (positions waiting to be written), `list_pages_dropped_total`;
- `training_runs_total{trigger,status}`, `training_run_seconds{status}` (count and sum),
  `training_runs_running`, `training_last_finished_timestamp_seconds`: read from the
  `training_run` table (the worker is another process, maybe another host), cached a few
  seconds, so every API host reports them.

The request path pays a dictionary lookup and two metric updates per operation; the buffer
and model figures are copied into the metrics by a task once a second, off the request path.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, parse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import REGISTRY
from sqlalchemy.engine import Engine

from db import training_runs

log = logging.getLogger("bookrec.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
TRAINING_CACHE_SECONDS = 5.0
LABEL_CACHE_SIZE = 1000
MAX_ROOT_FIELDS_IN_LABEL = 3

REQUESTS = Counter(
    "bookrec_graphql_requests",
    "GraphQL operations answered, by operation (root fields) and outcome (ok or error code).",
    ["operation", "outcome"],
)
LATENCY = Histogram(
    "bookrec_graphql_request_seconds",
    "Time to execute a GraphQL operation, by operation (root fields).",
    ["operation"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
LISTS = Counter(
    "bookrec_lists_served",
    "Lists (pages) served, by kind, the chain step of the first pick, and variant.",
    ["kind", "source", "variant"],
)
POSITIONS = Counter(
    "bookrec_list_positions",
    "Books served in lists, by the chain step that picked each, and variant.",
    ["source", "variant"],
)
MODEL_VERSION = Gauge(
    "bookrec_model_version_served",
    "1 for each model version a live server process serves.",
    ["version"],
    multiprocess_mode="livemax",
)
BUFFER_DEPTH = Gauge(
    "bookrec_list_buffer_depth",
    "Served-list positions buffered in memory, not yet written to the database.",
    multiprocess_mode="livesum",
)
DROPPED = Counter(
    "bookrec_list_pages_dropped",
    "Served-list pages never recorded (buffer full, or unwritable).",
)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


# ---------------------------------------------------------------------- the request path
_labels: OrderedDict[tuple[str, str | None], str] = OrderedDict()
_labels_lock = threading.Lock()


def operation_label(
    query: str | None, operation_name: str | None, errors: Iterable[GraphQLError] | None = None
) -> str:
    """The operation's root field names, sorted ("recommendations", "me,modelInfo"):
    bounded by the schema, unlike client-chosen operation names. Parsed once per document.
    A document refused before execution may name anything: it is "invalid", so that a
    client cannot grow the number of series."""
    if not query:
        return "none"
    if not executed(errors):
        return "invalid"
    key = (query, operation_name)
    with _labels_lock:
        found = _labels.get(key)
        if found is not None:
            _labels.move_to_end(key)
            return found
    label = _label_of(query, operation_name)
    with _labels_lock:
        _labels[key] = label
        while len(_labels) > LABEL_CACHE_SIZE:
            _labels.popitem(last=False)
    return label


def _label_of(query: str, operation_name: str | None) -> str:
    try:
        document = parse(query, no_location=True)
    except GraphQLError:
        return "invalid"
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1:
        return "invalid"
    names = sorted(
        {s.name.value for s in operations[0].selection_set.selections if hasattr(s, "name")}
    )
    if not names:
        return "fragments"
    shown = names[:MAX_ROOT_FIELDS_IN_LABEL]
    return ",".join(shown) + (",..." if len(names) > len(shown) else "")


def outcome_of(errors: Iterable[GraphQLError] | None) -> str:
    for error in errors or ():
        code = (error.extensions or {}).get("code")
        return str(code) if code else "INTERNAL_SERVER_ERROR"
    return "ok"


def executed(errors: Iterable[GraphQLError] | None) -> bool:
    """Whether the document got as far as execution (errors of execution have a path; a
    refusal before it, parse, validation or a limit, has none)."""
    return all(error.path is not None for error in errors or ())


# Labelled children, looked up once per label set (`labels()` takes a lock and builds a
# key on every call); the label sets are few and bounded.
_children: dict[tuple[object, ...], Any] = {}


def _child(metric: Any, *labels: str) -> Any:
    key = (metric, *labels)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*labels)
    return child


def observe_operation(operation: str, outcome: str, seconds: float) -> None:
    _child(REQUESTS, operation, outcome).inc()
    _child(LATENCY, operation).observe(seconds)


def observe_list(kind: str, sources: list[str], variant: str | None) -> None:
    """A ListRecorder observer: one page of a list was served."""
    if not sources:
        return
    variant = variant or "control"
    _child(LISTS, kind, sources[0], variant).inc()
    first = sources[0]
    if all(source == first for source in sources):  # the usual page: one step
        _child(POSITIONS, first, variant).inc(len(sources))
        return
    counts: dict[str, int] = {}
    for source in sources:
        counts[source] = counts.get(source, 0) + 1
    for source, n in counts.items():
        _child(POSITIONS, source, variant).inc(n)


# ---------------------------------------------------------------------- sampled state
class ProcessSampler:
    """Copies this process's buffer depth, drops and served version into the metrics
    (called once a second by the app's lifespan task)."""

    def __init__(self) -> None:
        self._dropped = 0
        self._version: str | None = None

    def sample(self, depth: int, dropped: int, version: str | None) -> None:
        BUFFER_DEPTH.set(depth)
        if dropped > self._dropped:
            DROPPED.inc(dropped - self._dropped)
        self._dropped = dropped
        if version != self._version:
            if self._version is not None:
                MODEL_VERSION.labels(self._version).set(0)
            if version is not None:
                MODEL_VERSION.labels(version).set(1)
            self._version = version


# ---------------------------------------------------------------------- training runs
class TrainingRunsCollector:
    """The training_run table as metrics, cached TRAINING_CACHE_SECONDS."""

    def __init__(self, engine: Engine, cache_seconds: float = TRAINING_CACHE_SECONDS) -> None:
        self.engine = engine
        self.cache_seconds = cache_seconds
        self._cached: tuple[float, list[Metric]] | None = None
        self._lock = threading.Lock()

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] > self.cache_seconds:
                try:
                    self._cached = (now, self._read())
                except Exception:  # a scrape must not fail because the database blinked
                    log.warning("could not read training runs for /metrics", exc_info=True)
                    if self._cached is None:
                        return
            yield from self._cached[1]

    def _read(self) -> list[Metric]:
        totals = training_runs.run_totals(self.engine)
        runs = CounterMetricFamily(
            "bookrec_training_runs",
            "Training runs of `bookrec worker`, by trigger and status.",
            labels=["trigger", "status"],
        )
        for (trigger, status), n in sorted(totals.counts.items()):
            runs.add_metric([trigger, status], n)
        seconds = SummaryMetricFamily(
            "bookrec_training_run_seconds",
            "Durations of finished training runs, by status.",
            labels=["status"],
        )
        counts: dict[str, int] = {}
        sums: dict[str, float] = {}
        for (_, status), n in totals.counts.items():
            if status != "running":
                counts[status] = counts.get(status, 0) + n
        for (_, status), total in totals.seconds.items():
            if status != "running":
                sums[status] = sums.get(status, 0.0) + total
        for status in sorted(counts):
            seconds.add_metric([status], count_value=counts[status], sum_value=sums[status])
        running = GaugeMetricFamily(
            "bookrec_training_runs_running", "Training runs in progress (0 or 1)."
        )
        running.add_metric([], sum(n for (_, s), n in totals.counts.items() if s == "running"))
        metrics: list[Metric] = [runs, seconds, running]
        if totals.last_finished is not None:
            last = GaugeMetricFamily(
                "bookrec_training_last_finished_timestamp_seconds",
                "When the last training run finished (Unix time).",
            )
            last.add_metric([], totals.last_finished.timestamp())
            metrics.append(last)
        return metrics


# ---------------------------------------------------------------------- exposition
class Exposition:
    """What GET /metrics answers: this process's metrics, or every worker's (multiprocess
    mode), plus the training runs."""

    def __init__(self, engine: Engine) -> None:
        self.training = TrainingRunsCollector(engine)

    def render(self) -> bytes:
        registry = CollectorRegistry()
        path = multiprocess_dir()
        if path is not None:
            forget_dead_processes(Path(path))
            multiprocess.MultiProcessCollector(registry, path=path)
        else:
            registry.register(_Forward(REGISTRY))
        registry.register(self.training)
        return generate_latest(registry)

    content_type = CONTENT_TYPE_LATEST


class _Forward:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()


def forget_dead_processes(path: Path) -> None:
    """A worker that died (and was replaced) leaves its live gauges' files behind:
    prometheus-client forgets them with mark_process_dead, which uvicorn never calls."""
    for file in path.glob("gauge_live*_*.db"):
        pid_text = file.stem.rsplit("_", 1)[-1]
        if not pid_text.isdigit():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(int(pid_text), str(path))
        except PermissionError:
            pass


def authorized(header: str | None, token: str | None) -> bool:
    """Open (token None), or `Authorization: Bearer <token>` matches (constant time)."""
    if token is None:
        return True
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)
