"""The machine a benchmark ran on, for the report's header: CPU, cores, memory, versions,
and the load average (other work competing for the cores skews every number)."""

from __future__ import annotations

import contextlib
import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

# distribution names of the libraries on the serving path
LIBRARIES = {
    "onnxruntime": "onnxruntime",
    "numpy": "numpy",
    "strawberry": "strawberry-graphql",
    "starlette": "starlette",
    "uvicorn": "uvicorn",
    "httpx": "httpx",
    "sqlalchemy": "sqlalchemy",
}


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory() -> str:
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        return f"{kb / 1024 / 1024:.1f} GiB"
    return "?"


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


def machine_info() -> list[str]:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    versions = ", ".join(f"{name} {_version(dist)}" for name, dist in LIBRARIES.items())
    return [
        f"cpu: {_cpu_model()}; cores usable: {usable} (os.cpu_count {os.cpu_count()}); "
        f"memory: {_memory()}",
        f"os: {platform.platform()}",
        f"python: {platform.python_implementation()} {platform.python_version()}",
        f"versions: {versions}",
        load_line(),
    ]


def load_line(after_run: bool = False) -> str:
    """The machine's load. After a run the load is mostly the benchmark's own, so it is only
    reported, not judged."""
    one, five, _ = os.getloadavg()
    line = f"load average now: {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"
    if after_run:
        return line + " (this benchmark's own server and client included)"
    return line + (
        "  <- OTHER WORK IS RUNNING: numbers are pessimistic and noisy" if five > 0.5 else ""
    )
