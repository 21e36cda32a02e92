"""`bookrec` commands as subprocesses, measured as a user would see them: the whole command's
wall time and the peak RSS of that process alone (wait4's rusage), output shown as it comes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOKREC = Path(sys.executable).parent / "bookrec"


@dataclass
class Completed:
    seconds: float
    peak_rss_mb: float
    output: str
    returncode: int


def bookrec_env(**settings: str) -> dict[str, str]:
    """The environment for a `bookrec` subprocess: `BOOKREC_<NAME>` settings, and this
    checkout's code ahead of whatever the venv's editable install points at."""
    env = {**os.environ, "BOOKREC_LOG_LEVEL": "WARNING", "TF_CPP_MIN_LOG_LEVEL": "2"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env.update({f"BOOKREC_{name.upper()}": value for name, value in settings.items()})
    return env


def run_bookrec(args: list[str], env: dict[str, str], echo: bool = True) -> Completed:
    """Run `bookrec ARGS`; its stdout is returned (and echoed line by line with `echo`),
    its stderr (progress bars, warnings) goes to ours."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(BOOKREC), *args], env=env, stdout=subprocess.PIPE, text=True, bufsize=1
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if echo:
            print(line, end="", flush=True)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return Completed(seconds, usage.ru_maxrss / 1024, "".join(lines), process.returncode)  # KiB
