"""wrk as the load client of the throughput cells: a C event loop that costs the 2-core
machine a few percent of a core where the Python client (bench/_httpx_driver.py) took a
large share from the server and, by being slow itself, flattered slow queries.

``run_wrk`` writes the requests (path, Authorization header, JSON body; one per line) and a
Lua script for wrk: each request is the next one of that list (distinct readers, distinct
book ids), every response whose status is not 200 or whose body carries "errors" counts as an
error, and ``done()`` prints one JSON line (requests, errors, latency percentiles, duration)
that is parsed here. wrk's own CPU time (user + system, from getrusage of the reaped child)
is reported beside the server's."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from _script import log

# One wrk thread by default: one epoll loop sends thousands of requests a second, more than
# bookrec serves on these cores, and a second thread would only take a core from the server.
THREADS = 1
MARK = "BOOKREC_WRK "

LUA = r"""-- Written by bench/_wrk.py. Args: <requests file> <threads>.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  -- One line per request: path TAB authorization TAB body (JSON has no raw tab or newline).
  reqs, count = {}, 0
  for line in io.lines(args[1]) do
    local path, auth, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    local headers = { ["Content-Type"] = "application/json" }
    if auth ~= "" then headers["Authorization"] = auth end
    count = count + 1
    reqs[count] = wrk.format("POST", path, headers, body)
  end
  -- Threads start at different places of the list, so they do not repeat each other.
  index = math.floor(id * count / tonumber(args[2])) % count
  non200, graphql_errors = 0, 0
end

function request()
  index = index % count + 1
  return reqs[index]
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
  elseif string.find(body, '"errors"', 1, true) then
    graphql_errors = graphql_errors + 1
  end
end

function done(summary, latency, requests)
  local non200_all, graphql_all = 0, 0
  for _, thread in ipairs(threads) do
    non200_all = non200_all + thread:get("non200")
    graphql_all = graphql_all + thread:get("graphql_errors")
  end
  local e = summary.errors
  io.write(string.format(
    'BOOKREC_WRK {"requests": %d, "duration_us": %d, "non200": %d, "graphql_errors": %d, '
      .. '"connect": %d, "read": %d, "write": %d, "timeout": %d, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, non200_all, graphql_all,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


@dataclass
class WrkRequest:
    path: str
    body: str  # JSON, on one line
    authorization: str = ""


@dataclass
class WrkResult:
    requests: int
    seconds: float
    non200: int
    graphql_errors: int
    socket_errors: dict[str, int]  # connect, read, write, timeout
    p50_ms: float
    p90_ms: float
    p99_ms: float
    client_cpu: float  # wrk's user + system CPU seconds

    @property
    def errors(self) -> int:
        return self.non200 + self.graphql_errors + sum(self.socket_errors.values())

    def describe_errors(self) -> str | None:
        if not self.errors:
            return None
        sockets = ", ".join(f"{k} {v}" for k, v in self.socket_errors.items() if v)
        return (
            f"wrk: {self.non200} answers not HTTP 200, {self.graphql_errors} with GraphQL "
            f"errors, socket errors: {sockets or 'none'}"
        )


def ensure_wrk() -> str | None:
    """The wrk binary; installed with apt-get (Debian's package) when missing and root.
    None, with the reason logged, where that is impossible."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        log("wrk is not installed, and installing it needs root and apt-get")
        return None
    log("installing wrk with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "wrk"]
    # A fresh machine has no package lists yet: update once if the first install fails.
    for argv in (install, ["apt-get", "update", "-qq"], install):
        try:
            done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, timeout=600)
        except subprocess.TimeoutExpired:
            log(f"{' '.join(argv)} took over 600 s")
            return None
        if done.returncode == 0 and argv is install and shutil.which("wrk"):
            return shutil.which("wrk")
    log("apt-get could not install wrk")
    return None


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(
    wrk: str,
    url: str,
    requests: Sequence[WrkRequest],
    connections: int,
    seconds: float,
    workdir: Path,
    threads: int = THREADS,
    timeout: float = 60.0,
) -> WrkResult:
    """``connections`` keep-alive connections for ``seconds`` (whole seconds, at least 1:
    wrk's -d), each request waited for at most ``timeout`` seconds (then counted as a
    timeout error); the wrk process itself is killed if it overruns by 30 s."""
    if not requests:
        raise ValueError("no requests to send")
    data, script = workdir / "wrk-requests.tsv", workdir / "wrk-rotate.lua"
    data.write_text("".join(f"{r.path}\t{r.authorization}\t{r.body}\n" for r in requests))
    script.write_text(LUA)
    threads = max(1, min(threads, connections))
    duration = max(1, round(seconds))
    argv = [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{duration}s"]
    argv += ["--timeout", f"{max(1, round(timeout))}s", "-s", str(script), url]
    argv += ["--", str(data), str(threads)]
    cpu0 = _children_cpu()  # the servers are not reaped before they stop: only wrk counts
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=duration + timeout + 30,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"wrk overran {duration}s + {timeout:g}s: {exc}") from None
    client_cpu = _children_cpu() - cpu0
    line = next((x for x in done.stdout.splitlines() if x.startswith(MARK)), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(
            f"wrk failed (exit {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    summary = json.loads(line[len(MARK) :])
    return WrkResult(
        requests=summary["requests"],
        seconds=summary["duration_us"] / 1e6,
        non200=summary["non200"],
        graphql_errors=summary["graphql_errors"],
        socket_errors={k: summary[k] for k in ("connect", "read", "write", "timeout")},
        p50_ms=summary["p50_us"] / 1000,
        p90_ms=summary["p90_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        client_cpu=client_cpu,
    )
