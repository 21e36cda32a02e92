"""TensorFlow's native start-up chatter, kept off the terminal of a training run.

On a machine without a GPU, TensorFlow's C++ side prints lines such as ``E0000 ...
cuda_platform.cc:52] failed call to cuInit: ... CUDA error`` and notes about oneDNN and
compiler flags. They are harmless, but a newcomer reads them as a broken install, and
`TF_CPP_MIN_LOG_LEVEL` does not silence them any more (absl writes everything before its
own initialisation straight to file descriptor 2: tensorflow/tensorflow#100442).

`filter_tensorflow_chatter()` points file descriptor 2 at a pipe and copies every line to the
real stderr except those known lines (matched by the source file that logs them, so a
real TensorFlow error from anywhere else still shows). For the processes that train: the
`bookrec train` and `bookrec worker` commands and the benchmarks that fit models.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading

# The C++ sources whose start-up lines say nothing to a user of a CPU-only machine.
_CHATTY_SOURCES = (
    "port.cc",  # oneDNN custom operations are on
    "cudart_stub.cc",  # could not find cuda drivers
    "cuda_platform.cc",  # failed call to cuInit
    "cuda_executor.cc",
    "cuda_diagnostics.cc",
    "cuda_fft.cc",
    "cuda_dnn.cc",
    "cuda_blas.cc",
    "cpu_feature_guard.cc",  # the binary could use more instructions
    "devices.cc",  # number of eligible GPUs (grappler, during the ONNX export)
    "single_machine.cc",  # grappler's session
    "node_def_util.cc",  # tf.data attributes newer than the op registry
)
NOISE = re.compile(
    r"^(?:"
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|To enable the following instructions: .*rebuild TensorFlow with the appropriate "
    r"compiler flags\."
    r"|[IWE]\d{4} [\d:.]+ +\d+ (?:" + "|".join(re.escape(s) for s in _CHATTY_SOURCES) + r"):\d+\].*"
    r")$"
)

_installed = False


def is_noise(line: str) -> bool:
    return NOISE.match(line.rstrip("\r\n")) is not None


def filter_tensorflow_chatter() -> None:
    """From now on, drop TensorFlow's known start-up lines from this process's stderr
    (file descriptor 2; Python's own `sys.stderr` writes pass through unchanged). Idempotent;
    undone at exit, after the last lines are copied."""
    global _installed
    if _installed:
        return
    _installed = True
    sys.stderr.flush()
    real = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def copy() -> None:
        with os.fdopen(read_end, "rb") as pipe, os.fdopen(real, "wb", buffering=0) as out:
            for line in pipe:
                if not is_noise(line.decode("utf-8", "replace")):
                    out.write(line)

    thread = threading.Thread(target=copy, name="stderr-filter", daemon=True)
    thread.start()

    def restore() -> None:
        sys.stderr.flush()
        again = os.dup(real)
        os.dup2(again, 2)  # the pipe's last writer closes: the copier drains, then ends
        os.close(again)
        thread.join(timeout=5)

    atexit.register(restore)
