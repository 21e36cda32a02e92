"""Shared helpers of the serving benchmarks (bench/serve.py, bench/load.py).

- machine information for the report header;
- a demo database (``bookrec init-db`` + ``bookrec import demo``) and a trained default model,
  cached between runs under ~/.cache/bookrec/bench (keyed by the demo data and training code);
- a server subprocess (``bookrec serve`` or any command) on a free loopback port, waited for on
  /healthz and always shut down: SIGTERM, then SIGKILL of its whole process group after a timeout;
- an asyncio + httpx load driver (one keep-alive connection pool), bounded in requests and in
  time, that records the latency and outcome of every request;
- percentiles and table formatting.

Nothing here imports tensorflow: only the book-manager comparison server (a subprocess) does.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BIN = Path(sys.executable).parent
CACHE = Path(os.environ.get("BOOKREC_CACHE", Path.home() / ".cache" / "bookrec")) / "bench"
LOOPBACK = "127.0.0.1"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- machine info


def machine_info() -> list[str]:
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count() or 0
    mem = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    versions = []
    for name in (
        "onnxruntime",
        "numpy",
        "strawberry",
        "starlette",
        "uvicorn",
        "httpx",
        "sqlalchemy",
    ):
        try:
            from importlib.metadata import version

            dist = "strawberry-graphql" if name == "strawberry" else name
            versions.append(f"{name} {version(dist)}")
        except Exception:
            versions.append(f"{name} ?")
    return [
        f"cpu: {cpu}; cores usable: {affinity} (os.cpu_count {os.cpu_count()}); memory: {mem}",
        f"os: {platform.platform()}",
        f"python: {platform.python_implementation()} {platform.python_version()}",
        "versions: " + ", ".join(versions),
        load_line(),
    ]


def load_line(after_run: bool = False) -> str:
    """The machine's load: other processes competing for the cores skew every number. After a
    run the load is mostly the benchmark's own, so it is only reported, not judged."""
    one, five, _ = os.getloadavg()
    line = f"load average now: {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"
    if after_run:
        return line + " (this benchmark's own server and client included)"
    return line + (
        "  <- OTHER WORK IS RUNNING: numbers are pessimistic and noisy" if five > 0.5 else ""
    )


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def run_logged(
    argv: Sequence[str], env: dict[str, str], cwd: Path, log_path: Path, timeout: float
) -> None:
    """Run a set-up command to completion, its output into ``log_path``; raise with the log's
    tail if it fails or overruns."""
    with open(log_path, "ab") as out:
        out.write(f"\n$ {' '.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            list(argv),
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise RuntimeError(
                f"{' '.join(argv)} took over {timeout:.0f}s\n{_tail(log_path)}"
            ) from None
        except BaseException:
            _kill_group(proc)
            raise
    if rc != 0:
        raise RuntimeError(f"{' '.join(argv)} failed with exit code {rc}:\n{_tail(log_path)}")


def _kill_group(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL what is left of a process group we started (start_new_session=True)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.wait(timeout=5)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


_LIVE: list[Server] = []


def _stop_all() -> None:
    for server in list(_LIVE):
        server.stop()


atexit.register(_stop_all)


def _terminate_on_sigterm() -> None:
    # SIGTERM to the bench: unwind (finally blocks and atexit stop the servers).
    def handler(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGTERM, handler)


_terminate_on_sigterm()


class Server:
    """A server subprocess in its own process group, on a loopback port."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: dict[str, str],
        cwd: Path,
        port: int,
        log_path: Path,
        health_path: str = "/healthz",
    ) -> None:
        self.name, self.argv, self.env, self.cwd = name, list(argv), env, cwd
        self.port, self.log_path, self.health_path = port, log_path, health_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, ready_timeout: float = 120.0) -> Server:
        self._log = open(self.log_path, "ab")  # noqa: SIM115  (closed in stop())
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        _LIVE.append(self)
        try:
            self._wait_ready(ready_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with code {self.proc.returncode} before it was "
                    f"ready:\n{_tail(self.log_path)}"
                )
            try:
                response = httpx.get(self.base_url + self.health_path, timeout=2.0)
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}: {response.text[:200]}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(0.2)
        raise RuntimeError(
            f"{self.name} not ready after {timeout:.0f}s ({last}):\n{_tail(self.log_path)}"
        )

    def pids(self) -> list[int]:
        """The server process and its children (uvicorn workers), from /proc."""
        if self.proc is None:
            return []
        out = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                fields = stat[stat.rindex(")") + 2 :].split()
                if int(fields[2]) == self.proc.pid:  # same process group
                    out.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
        return out

    def cpu_seconds(self) -> float:
        """user + system CPU seconds of every process of the server's group (live ones)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in self.pids():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                fields = stat[stat.rindex(")") + 2 :].split()
                total += (int(fields[11]) + int(fields[12])) / tick
            except (OSError, ValueError, IndexError):
                continue
        return total

    def stop(self, timeout: float = 15.0) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)  # uvicorn: graceful, stops its workers too
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log(f"{self.name} ignored SIGTERM for {timeout:.0f}s; killing its process group")
        # Whatever is left of the group (workers of a killed master): SIGTERM, then SIGKILL.
        if _group_alive(proc.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            deadline = time.monotonic() + 5
            while _group_alive(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            _kill_group(proc)
        with contextlib.suppress(Exception):
            proc.wait(timeout=5)
        self.proc = None
        with contextlib.suppress(Exception):
            self._log.close()
        if self in _LIVE:
            _LIVE.remove(self)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- demo data + model


def fingerprint(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def model_cache_dir() -> Path:
    """Where the default model trained on the demo data is kept between runs: keyed by the demo
    files and the training code, so a change to either trains again."""
    files = [*(ROOT / "db" / "demo_data").glob("*.csv"), *(ROOT / "training").glob("*.py")]
    return CACHE / f"models-{fingerprint(files)}"


def bookrec_env(
    database_url: str, model_dir: Path, secret_key: str, **extra: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOOKREC_")}
    env.update(
        BOOKREC_DATABASE_URL=database_url,
        BOOKREC_MODEL_DIR=str(model_dir),
        BOOKREC_SECRET_KEY=secret_key,
        PYTHONUNBUFFERED="1",
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    env.update(extra)
    return env


def prepare_database(database_url: str, workdir: Path, log_path: Path) -> None:
    """``bookrec init-db`` and ``bookrec import demo`` (idempotent: an imported db is kept)."""
    env = bookrec_env(database_url, workdir / "unused-models", "x" * 48)
    t0 = time.monotonic()
    run_logged([str(BIN / "bookrec"), "init-db"], env, workdir, log_path, timeout=300)
    run_logged([str(BIN / "bookrec"), "import", "demo"], env, workdir, log_path, timeout=600)
    log(f"database ready in {time.monotonic() - t0:.1f}s: {redact(database_url)}")


def prepare_model(model_dir: Path | None, database_url: str, workdir: Path, log_path: Path) -> Path:
    """A models directory with a CURRENT default model: ``model_dir`` if given, else the cache
    (trained there with ``bookrec train`` on the demo database if it has none yet)."""
    from inference.artifact import current_version

    if model_dir is not None:
        if current_version(model_dir) is None:
            raise SystemExit(f"--model-dir {model_dir}: no current model in it")
        log(f"using model {current_version(model_dir)} in {model_dir}")
        return model_dir
    cached = model_cache_dir()
    if current_version(cached) is not None:
        log(f"using cached model {current_version(cached)} in {cached}")
        return cached
    cached.mkdir(parents=True, exist_ok=True)
    log(f"training the default model into {cached} (about a minute; output in {log_path})")
    t0 = time.monotonic()
    env = bookrec_env(database_url, cached, "x" * 48)
    run_logged([str(BIN / "bookrec"), "train"], env, workdir, log_path, timeout=1800)
    if current_version(cached) is None:
        raise RuntimeError(f"training published no current model in {cached}:\n{_tail(log_path)}")
    log(f"trained model {current_version(cached)} in {time.monotonic() - t0:.0f}s")
    return cached


def redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return url


def start_bookrec(
    database_url: str,
    model_dir: Path,
    secret_key: str,
    workdir: Path,
    workers: int = 1,
    name: str = "bookrec",
    **env_extra: str,
) -> Server:
    port = free_port()
    argv = [
        str(BIN / "bookrec"),
        "serve",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    env = bookrec_env(database_url, model_dir, secret_key, **env_extra)
    server = Server(name, argv, env, workdir, port, workdir / f"{name}.log")
    t0 = time.monotonic()
    server.start()
    if workers > 1:
        _wait_for_workers(server, workers)
    log(f"{name} ready on {server.base_url} ({workers} worker(s)) in {time.monotonic() - t0:.1f}s")
    return server


def _wait_for_workers(server: Server, workers: int, timeout: float = 60.0) -> None:
    """With several workers /healthz answers as soon as one is up: wait until all answered."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < workers and time.monotonic() < deadline:
        # A fresh connection each time: the kernel spreads new connections over the workers.
        with contextlib.suppress(httpx.HTTPError, ValueError):
            seen.add(int(httpx.get(server.base_url + "/healthz", timeout=5.0).json().get("pid", 0)))
        if len(seen) < workers:
            time.sleep(0.05)
    if len(seen) < workers:
        log(f"warning: only {len(seen)} of {workers} workers answered /healthz")


# --------------------------------------------------------------------------- GraphQL helpers


def graphql_sync(
    client: httpx.Client,
    url: str,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = client.post(
        url, json={"query": query, "variables": variables or {}}, headers=headers
    )
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"GraphQL call failed ({response.status_code}): {str(body)[:500]}")
    return body["data"]


async def graphql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"GraphQL call failed ({response.status_code}): {str(body)[:500]}")
    return body["data"]


REGISTER = """mutation($u: String!, $p: String!, $c: [ID!]!) {
  register(username: $u, password: $p, categoryIds: $c) { token user { id } } }"""


async def register_readers(
    base_url: str, prefix: str, categories: Sequence[Sequence[str]], parallel: int = 4
) -> list[tuple[int, str]]:
    """Register one reader per entry of ``categories`` (its chosen category ids) through the
    API; returns (user id, token) pairs. Argon2 hashing makes this ~0.1 s each: keep it small."""
    out: list[tuple[int, str] | None] = [None] * len(categories)
    sem = asyncio.Semaphore(parallel)
    async with httpx.AsyncClient(base_url=base_url, timeout=60.0) as client:

        async def one(i: int) -> None:
            async with sem:
                data = await graphql(
                    client,
                    REGISTER,
                    {"u": f"{prefix}{i}", "p": "bench-password-1", "c": list(categories[i])},
                )
                out[i] = (int(data["register"]["user"]["id"]), data["register"]["token"])

        await asyncio.gather(*(one(i) for i in range(len(categories))))
    return [r for r in out if r is not None]


# --------------------------------------------------------------------------- the load driver


@dataclass
class Request:
    kind: str
    payload: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    path: str = "/graphql"
    # Inspects the decoded JSON body of a 200 answer: None if fine, else what is wrong.
    check: Callable[[dict[str, Any]], str | None] | None = None
    meta: Any = None


@dataclass
class Outcome:
    request: Request
    started: float
    latency: float
    ok: bool
    error: str | None
    body: dict[str, Any] | None


@dataclass
class Cell:
    outcomes: list[Outcome]
    elapsed: float
    client_cpu: float
    server_cpu: float | None

    def kinds(self) -> list[str]:
        return sorted({o.request.kind for o in self.outcomes})

    def of(self, kind: str | None = None) -> list[Outcome]:
        return [o for o in self.outcomes if kind is None or o.request.kind == kind]


def graphql_check(body: dict[str, Any]) -> str | None:
    if body.get("errors"):
        err = body["errors"][0]
        code = (err.get("extensions") or {}).get("code", "?")
        return f"GraphQL error {code}: {err.get('message', '')[:120]}"
    if body.get("data") is None:
        return "no data"
    return None


async def drive(
    base_url: str,
    make: Callable[[int, int], Request],
    concurrency: int,
    max_requests: int,
    max_seconds: float,
    on_outcome: Callable[[Outcome], None] | None = None,
    server: Server | None = None,
    timeout: float = 60.0,
) -> Cell:
    """``concurrency`` virtual users, each sending ``make(vu, seq)`` requests back to back over
    its own keep-alive connection, until ``max_requests`` were sent or ``max_seconds`` passed
    (requests in flight then finish). Every request's latency and outcome is recorded.

    One client per virtual user, as load generators do (wrk, k6): httpx's shared pool costs
    the client more CPU per request the more connections it holds, and at 32 it was this
    process, not the server, that set the pace."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    outcomes: list[Outcome] = []
    sent = 0
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout)
            )
            for _ in range(concurrency)
        ]
        t0 = time.perf_counter()
        deadline = t0 + max_seconds
        cpu0 = time.process_time()
        srv0 = server.cpu_seconds() if server else None

        async def vu(index: int) -> None:
            nonlocal sent
            client = clients[index]
            seq = 0
            while sent < max_requests and time.perf_counter() < deadline:
                sent += 1
                req = make(index, seq)
                seq += 1
                start = time.perf_counter()
                body: dict[str, Any] | None = None
                try:
                    response = await client.post(req.path, json=req.payload, headers=req.headers)
                    latency = time.perf_counter() - start
                    try:
                        body = response.json()
                    except ValueError:
                        body = None
                    if response.status_code != 200:
                        error: str | None = f"HTTP {response.status_code}: {response.text[:120]}"
                    elif body is None:
                        error = "response is not JSON"
                    else:
                        error = (req.check or graphql_check)(body)
                except httpx.HTTPError as exc:
                    latency = time.perf_counter() - start
                    error = f"{type(exc).__name__}: {exc}"[:160]
                outcome = Outcome(req, start - t0, latency, error is None, error, body)
                outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)

        await asyncio.gather(*(vu(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - t0
        client_cpu = time.process_time() - cpu0
        server_cpu = server.cpu_seconds() - srv0 if server and srv0 is not None else None
    return Cell(outcomes, elapsed, client_cpu, server_cpu)


def run_drive(*args: Any, **kwargs: Any) -> Cell:
    return asyncio.run(drive(*args, **kwargs))


# --------------------------------------------------------------------------- statistics + tables


def percentiles_ms(latencies: Sequence[float], qs: Sequence[float] = (50, 95, 99)) -> list[float]:
    if not latencies:
        return [float("nan")] * len(qs)
    return [float(v) * 1000 for v in np.percentile(np.asarray(latencies), qs)]


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            if v != v:
                return "-"
            return f"{v:,.1f}" if abs(v) >= 10 else f"{v:,.2f}"
        return str(v)

    cells = [[fmt(v) for v in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    aligns = ["<" if i == 0 else ">" for i in range(len(headers))]
    aligns[0] = "<"

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            f"{v:{a}{w}}" for v, a, w in zip(values, aligns, widths, strict=True)
        ).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def new_workdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def read_catalog(database_url: str) -> tuple[list[int], list[int], list[int]]:
    """(book ids, ids of the demo readers who rated, category ids) of a demo database. Readers
    registered later by a benchmark (ids above the demo's 3,000) are left out."""
    import sqlalchemy as sa

    from db.engine import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            books = [r[0] for r in conn.execute(sa.text("SELECT id FROM book ORDER BY id"))]
            cats = [r[0] for r in conn.execute(sa.text("SELECT id FROM category ORDER BY id"))]
            readers = [
                r[0]
                for r in conn.execute(
                    sa.text(
                        "SELECT DISTINCT user_id FROM rating WHERE user_id <= 3000 ORDER BY user_id"
                    )
                )
            ]
    finally:
        engine.dispose()
    return books, readers, cats
