"""A real `bookrec serve` (uvicorn) in a subprocess, on a free loopback port.

Bounded everywhere: start waits at most `start_timeout` for /healthz; stop sends SIGTERM,
waits, then SIGKILL; `kill()` is the crash (SIGKILL, no shutdown). The server runs in its
own session (process group) so that nothing it might spawn outlives the test.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
SECRET = "reliability-secret-key-that-is-long-enough-0123456789"
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


def server_env(database_url: str, model_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOOKREC_")}
    env.update(
        BOOKREC_ENV="test",
        BOOKREC_DATABASE_URL=database_url,
        BOOKREC_MODEL_DIR=str(model_dir),
        BOOKREC_SECRET_KEY=SECRET,
        BOOKREC_MODEL_POLL_SECONDS="0.2",
        BOOKREC_LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class Server:
    def __init__(
        self,
        database_url: str,
        model_dir: Path,
        log_path: Path,
        workers: int = 1,
        **extra_env: str,
    ) -> None:
        self.workers = workers
        self.database_url = database_url
        self.model_dir = Path(model_dir)
        self.log_path = Path(log_path)
        self.extra_env = extra_env
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, start_timeout: float = 60.0) -> Server:
        assert self.process is None, "already started"
        self.port = free_port()
        env = server_env(self.database_url, self.model_dir, **self.extra_env)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
        try:
            self.process = subprocess.Popen(
                [
                    *bookrec_command(),
                    "serve",
                    "--host",
                    LOOPBACK,
                    "--port",
                    str(self.port),
                    "--workers",
                    str(self.workers),
                ],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        try:
            self._wait_healthy(start_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        last: str = "no answer"
        with httpx.Client(base_url=self.url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"server exited with {self.process.returncode} before it was healthy:\n"
                        + self.log_tail()
                    )
                try:
                    response = client.get("/healthz")
                    if response.status_code == 200:
                        return
                    last = f"{response.status_code} {response.text[:200]}"
                except httpx.TransportError as exc:
                    last = repr(exc)
                time.sleep(0.1)
        raise TimeoutError(f"server not healthy after {timeout}s ({last}):\n{self.log_tail()}")

    def health(self) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/healthz", timeout=5.0)
        return response.json()  # type: ignore[no-any-return]

    def kill(self) -> None:
        """A crash: SIGKILL, nothing flushed, no shutdown hooks."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self, grace: float = 10.0) -> None:
        """Graceful stop (SIGTERM), then SIGKILL if it lingers; always reaps the child."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            except ProcessLookupError:
                process.wait(timeout=10)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextmanager
def running_server(
    database_url: str, model_dir: Path, log_path: Path, **extra_env: str
) -> Iterator[Server]:
    server = Server(database_url, model_dir, log_path, **extra_env)
    server.start()
    try:
        yield server
    finally:
        server.stop()
