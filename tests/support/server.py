"""A server subprocess on a free loopback port: the one harness of the reliability tests and
the benchmarks (bench/serve.py, bench/load.py).

Bounded everywhere: ``start()`` waits at most ``timeout`` seconds for /healthz (and, with
several workers, until every worker answered); ``stop()`` sends SIGTERM to the process group,
waits, then SIGKILLs what is left; ``kill()`` is the crash (SIGKILL, no shutdown). The server
runs in its own session (process group), so nothing it spawns outlives the caller, and its
CPU time can be read for the whole group from /proc.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"


def bookrec_command() -> list[str]:
    """The installed `bookrec` script beside this interpreter, else the CLI module."""
    script = Path(sys.executable).with_name("bookrec")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from app.cli import main; main()"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def bookrec_env(
    database_url: str, model_dir: Path, secret_key: str, **extra: str
) -> dict[str, str]:
    """This process's environment without any BOOKREC_* setting of its own, plus these."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOOKREC_")}
    env.update(
        BOOKREC_DATABASE_URL=database_url,
        BOOKREC_MODEL_DIR=str(model_dir),
        BOOKREC_SECRET_KEY=secret_key,
        PYTHONUNBUFFERED="1",  # the log tail shows the last lines, not a lost buffer
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    env.update(extra)
    return env


def kill_group(process: subprocess.Popen[Any], reap_timeout: float = 10.0) -> None:
    """SIGKILL every process of a group this module started (start_new_session=True), reap."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=reap_timeout)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _stat_fields(pid: int | str) -> list[str]:
    """/proc/<pid>/stat after the command name (which may hold spaces): fields 3 onwards."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2 :].split()


_LIVE: list[Server] = []  # started and not stopped yet: stopped at exit if the caller could not


def _stop_live() -> None:
    for server in list(_LIVE):
        server.stop()


atexit.register(_stop_live)  # a no-op unless a caller was interrupted before its stop()


class Server:
    """``argv`` (which must listen on ``port``) in its own process group, output to
    ``log_path``. ``workers`` > 1: /healthz answers with each worker's ``pid``."""

    def __init__(
        self,
        argv: Sequence[str],
        env: dict[str, str],
        log_path: Path,
        port: int,
        *,
        name: str = "server",
        cwd: Path = REPO,
        workers: int = 1,
    ) -> None:
        self.argv, self.env, self.log_path, self.port = list(argv), env, Path(log_path), port
        self.name, self.cwd, self.workers = name, cwd, workers
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, timeout: float = 60.0) -> Server:
        assert self.process is None, "already started"
        with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _LIVE.append(self)
        try:
            self._wait_ready(time.monotonic() + timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, deadline: float) -> None:
        pids: set[int] = set()
        last = "no answer"
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode} before it was ready:\n"
                    + self.log_tail()
                )
            try:
                # A new connection each time: the kernel spreads them over the workers.
                response = httpx.get(f"{self.url}/healthz", timeout=2.0)
                if response.status_code == 200:
                    if self.workers <= 1:
                        return
                    pids.add(int(response.json().get("pid", 0)))
                    if len(pids) >= self.workers:
                        return
                    last = f"{len(pids)} of {self.workers} workers answered"
                    time.sleep(0.02)  # ask again soon: the other workers are up too, mostly
                    continue
                last = f"HTTP {response.status_code}: {response.text[:200]}"
            except (httpx.HTTPError, ValueError) as exc:
                last = repr(exc)
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready ({last}):\n{self.log_tail()}")

    def health(self) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/healthz", timeout=5.0)
        return response.json()  # type: ignore[no-any-return]

    def kill(self) -> None:
        """A crash: SIGKILL to the whole group, nothing flushed, no shutdown hooks."""
        process, self.process = self.process, None
        if process is not None:
            kill_group(process)
        self._forget()

    def stop(self, grace: float = 10.0) -> None:
        """Graceful stop: SIGTERM to the group (uvicorn's master and workers shut down),
        then SIGKILL of whatever is left after ``grace`` seconds; always reaps the child."""
        process, self.process = self.process, None
        if process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while (process.poll() is None or _group_alive(process.pid)) and (
                time.monotonic() < deadline
            ):
                time.sleep(0.05)
            if process.poll() is None or _group_alive(process.pid):
                print(f"{self.name} ignored SIGTERM for {grace:g}s: SIGKILL", file=sys.stderr)
                kill_group(process)
        self._forget()

    def _forget(self) -> None:
        if self in _LIVE:
            _LIVE.remove(self)

    def pids(self) -> list[int]:
        """The live processes of the server's group (uvicorn's master and workers)."""
        if self.process is None:
            return []
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    if int(_stat_fields(entry.name)[2]) == self.process.pid:  # pgrp
                        found.append(int(entry.name))
        return found

    def cpu_seconds(self) -> float:
        """User + system CPU seconds of the group: every live process, plus the children
        they reaped (a worker that was restarted still counts)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = _stat_fields(pid)
                total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
        return total / tick

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_text()[-chars:]

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def bookrec_server(
    env: dict[str, str],
    log_path: Path,
    workers: int = 1,
    name: str = "bookrec",
    cwd: Path = REPO,
) -> Server:
    """`bookrec serve` on a free loopback port (not started yet)."""
    port = free_port()
    argv = [*bookrec_command(), "serve", "--host", LOOPBACK, "--port", str(port)]
    argv += ["--workers", str(workers)]
    return Server(argv, env, log_path, port, name=name, cwd=cwd, workers=workers)
