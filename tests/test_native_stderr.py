"""TensorFlow's known start-up lines are dropped from a training process's stderr; every
other line (Python's own, or a real error from the native side) still shows, in order."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from app.native_stderr import is_noise

# Lines as TensorFlow 2.21 prints them on a machine without a GPU (from real runs here).
CHATTER = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796146564.280108    9987 port.cc:153] oneDNN custom operations are on. "
    "You may see slightly different numerical results due to floating-point round-off "
    "errors from different computation orders. To turn them off, set the environment "
    "variable `TF_ENABLE_ONEDNN_OPTS=0`.",
    "I0000 00:00:1796146564.281194    9987 cudart_stub.cc:31] Could not find cuda drivers on "
    "your machine, GPU will not be used.",
    "E0000 00:00:1796146572.340870    9987 cuda_platform.cc:52] failed call to cuInit: "
    "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
    "To enable the following instructions: AVX2 AVX512F AVX512_VNNI AVX512_BF16 FMA, in other "
    "operations, rebuild TensorFlow with the appropriate compiler flags.",
    "I0000 00:00:1796147947.617945   23450 devices.cc:67] Number of eligible GPUs (core count "
    ">= 8, compute capability >= 0.0): 0",
]
REAL = [
    "E0000 00:00:1796146572.340870    9987 op_kernel.cc:1830] OP_REQUIRES failed: out of memory",
    "Traceback (most recent call last):",
    "epoch 3/40 rmse 0.91",
]


def test_the_known_lines_are_noise_and_real_ones_are_not() -> None:
    assert all(is_noise(line) for line in CHATTER)
    assert not any(is_noise(line) for line in REAL)


def test_a_process_keeps_its_real_lines_only() -> None:
    lines = [*CHATTER[:3], REAL[0], *CHATTER[3:], REAL[1]]
    script = textwrap.dedent(
        f"""
        import os, sys
        from app.native_stderr import filter_tensorflow_chatter
        filter_tensorflow_chatter()
        for line in {lines!r}:
            os.write(2, (line + "\\n").encode())  # as native code writes: straight to fd 2
        print({REAL[2]!r}, file=sys.stderr)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stderr.splitlines() == REAL
