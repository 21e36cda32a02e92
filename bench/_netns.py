"""Network namespaces for bench/rehearsal.py: hosts on one machine, joined by a bridge.

Every namespace and interface is named with the `br-` prefix. The bridge lives in a
namespace of its own (`br-switch`) and every veth pair is created with both ends inside
namespaces (`ip -n`), so the machine's own namespace gets no interface, route or firewall
rule: traffic goes only over loopback and between these namespaces. Deleting the
namespaces (after killing what runs in them) removes every interface with them.

A guard process (`guard`) tears everything down if the script dies without doing it
itself (SIGKILL), so nothing outlives a run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

PREFIX = "br-"
SWITCH = "br-switch"
BRIDGE = "br-bridge"
SUBNET = "10.231.0"  # a /24 private to these namespaces
GUARD_MAX_SECONDS = 4 * 3600


def run(argv: Sequence[str], timeout: float = 30.0, check: bool = True) -> str:
    result = subprocess.run(
        list(argv), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {result.returncode}: {result.stderr.strip()}")
    return result.stdout


def existing() -> list[str]:
    out = run(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in out.splitlines() if line.startswith(PREFIX)]


def pids_in(namespace: str) -> list[int]:
    out = run(["ip", "netns", "pids", namespace], check=False)
    return [int(p) for p in out.split() if p.isdigit()]


def teardown(namespaces: Sequence[str] | None = None) -> list[str]:
    """Kill every process in our namespaces, then delete them (and so their interfaces).
    Bounded: a few rounds of SIGKILL, then the deletion whatever happened."""
    names = list(namespaces) if namespaces is not None else existing()
    names = [n for n in names if n.startswith(PREFIX)]
    spare = {os.getpid()}  # the script itself may live in one of them (the client host)
    for _ in range(5):
        alive = [p for n in names for p in pids_in(n) if p not in spare]
        if not alive:
            break
        for pid in alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.3)
    for name in names:
        run(["ip", "netns", "del", name], check=False)
    return names


class Network:
    """The switch namespace with its bridge, and one namespace per host joined to it."""

    def __init__(self) -> None:
        self.hosts: dict[str, str] = {}  # namespace -> address
        self.namespaces: list[str] = []

    def create(self) -> None:
        leftovers = existing()
        if leftovers:  # a previous run that was killed before its guard could act
            teardown(leftovers)
        self._add_namespace(SWITCH)
        run(["ip", "-n", SWITCH, "link", "add", BRIDGE, "type", "bridge"])
        run(["ip", "-n", SWITCH, "link", "set", BRIDGE, "up"])

    def _add_namespace(self, name: str) -> None:
        assert name.startswith(PREFIX) and len(name) <= 15
        run(["ip", "netns", "add", name])
        self.namespaces.append(name)
        run(["ip", "-n", name, "link", "set", "lo", "up"])

    def add_host(self, name: str, number: int) -> str:
        """A namespace `name` with address SUBNET.number on the bridge; its address."""
        self._add_namespace(name)
        outer, inner = f"br-p{number}", "eth0"
        run(
            [
                "ip",
                "-n",
                SWITCH,
                "link",
                "add",
                outer,
                "type",
                "veth",
                "peer",
                "name",
                inner,
                "netns",
                name,
            ]
        )
        run(["ip", "-n", SWITCH, "link", "set", outer, "master", BRIDGE, "up"])
        address = f"{SUBNET}.{number}"
        run(["ip", "-n", name, "addr", "add", f"{address}/24", "dev", inner])
        run(["ip", "-n", name, "link", "set", inner, "up"])
        self.hosts[name] = address
        return address

    def exec_argv(self, name: str, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", name, *argv]

    def enter(self, name: str) -> None:
        """Move this thread (and what it starts later) into namespace `name`."""
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        clone_newnet = 0x40000000
        fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
        try:
            if libc.setns(fd, clone_newnet) != 0:
                raise OSError(ctypes.get_errno(), f"setns into {name}")
        finally:
            os.close(fd)

    def teardown(self) -> None:
        teardown(self.namespaces)


def start_guard(paths_to_remove: Sequence[str] = ()) -> subprocess.Popen[bytes]:
    """A process of its own session that waits (bounded) for this one to end, then removes
    whatever `br-` namespaces are left, and the given paths: cleanup even after SIGKILL."""
    code = (
        "import os, sys, time, shutil\n"
        f"sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})\n"
        "import _netns\n"
        "parent = int(sys.argv[1]); end = time.monotonic() + float(sys.argv[2])\n"
        "while time.monotonic() < end:\n"
        "    try:\n"
        "        os.kill(parent, 0)\n"
        "    except ProcessLookupError:\n"
        "        break\n"
        "    time.sleep(0.5)\n"
        "_netns.teardown()\n"
        "for p in sys.argv[3:]:\n"
        "    shutil.rmtree(p, ignore_errors=True)\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, str(os.getpid()), str(GUARD_MAX_SECONDS), *paths_to_remove],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
