"""What every benchmark script does at run time: progress lines on stderr, and SIGTERM
turned into SystemExit (installed by the script's main(), never at import)."""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from types import FrameType


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def exit_on_sigterm() -> None:
    """SIGTERM to the benchmark unwinds it like Ctrl-C: finally blocks and atexit run, so the
    servers it started are stopped and its temporary directory removed."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    with contextlib.suppress(ValueError):  # not the main thread: leave the default
        signal.signal(signal.SIGTERM, handler)
