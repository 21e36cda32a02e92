"""The server harness (tests/support/server.py) keeps its promises with a server that does
not cooperate: a process group that ignores SIGTERM is still gone after stop(), the CPU
of the whole group is counted, and waiting for workers that never all answer is bounded."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.server import Server, free_port

# A /healthz server that ignores SIGTERM and starts a helper in its own process group: the
# helper burns `sys.argv[2]` CPU seconds, then sleeps (also ignoring SIGTERM).
STUBBORN = r"""
import http.server, json, os, signal, subprocess, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)
subprocess.Popen([sys.executable, "-c", '''
import signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
while time.process_time() < float(sys.argv[1]):
    pass
time.sleep(600)
''', sys.argv[2]])

class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"status": "ok", "pid": os.getpid()}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Health).serve_forever()
"""


def stubborn(tmp_path: Path, burn_seconds: float = 0.0, workers: int = 1) -> Server:
    port = free_port()
    argv = [sys.executable, "-c", STUBBORN, str(port), str(burn_seconds)]
    return Server(argv, dict(os.environ), tmp_path / "stubborn.log", port, workers=workers)


def gone(pid: int) -> bool:
    """No such process, or a zombie waiting for init to reap it (it runs no more)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_stop_kills_a_group_that_ignores_sigterm(tmp_path: Path) -> None:
    server = stubborn(tmp_path).start(timeout=30)
    assert wait_until(lambda: len(server.pids()) == 2, 10), server.pids()
    pids = server.pids()
    started = time.monotonic()
    server.stop(grace=1.0)
    assert time.monotonic() - started < 15
    assert wait_until(lambda: all(gone(p) for p in pids), 10), [p for p in pids if not gone(p)]
    assert server.pids() == [] and server.process is None


def test_cpu_seconds_counts_every_process_of_the_group(tmp_path: Path) -> None:
    # The helper burns 1 s of CPU; the server alone uses far less to start and idle.
    server = stubborn(tmp_path, burn_seconds=1.0).start(timeout=30)
    try:
        assert wait_until(lambda: server.cpu_seconds() >= 0.95, 60), server.cpu_seconds()
    finally:
        server.kill()
    assert server.process is None and server.cpu_seconds() == 0.0


def test_waiting_for_workers_is_bounded_and_cleans_up(tmp_path: Path) -> None:
    server = stubborn(tmp_path, workers=2)  # one process answers: the second never will
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="1 of 2 workers answered"):
        server.start(timeout=2.0)
    assert time.monotonic() - started < 20
    assert server.process is None
