"""A multi-host rehearsal on one machine (root only): hosts in network namespaces, a real
load balancer, a bounded mixed load, and three faults.

    sudo .venv/bin/python bench/rehearsal.py [--quick] [--api-hosts 3] [--seconds-per-phase 20]
                                             [--concurrency 24] [--readers 48] [--epochs 2]

The hosts (bench/_netns.py: namespaces `br-*` joined by a bridge in a namespace of its own;
nothing is added to the machine's own namespace, so no traffic leaves loopback and them):

    br-db      10.231.0.10  PostgreSQL 15, a cluster of its own (initdb/pg_ctl as postgres,
                            its own data and socket directories; the system cluster is untouched)
    br-api1..N 10.231.0.11+ `bookrec serve`, model store = database, each its own local cache
    br-worker  10.231.0.20  `bookrec init-db`, `import demo`, `train` (publishes into the database)
    br-lb      10.231.0.30  haproxy (apt-get installed if missing), health checks on /healthz
    br-client  10.231.0.40  this script: the load (bench/load.py's mix and ledger) and the probes

Under the load, one phase after another (each --seconds-per-phase of load at least):
1. SIGKILL one API host, bring it back;
2. `bookrec train --epochs N --force` on the worker host: a new model published into the
   database; every API host's own /healthz is polled until it serves it;
3. restart PostgreSQL (`pg_ctl restart -m fast`); every host's /healthz is polled until it
   is healthy again, and the balancer until a query succeeds.
Then the API hosts stop and every acknowledged write is checked against the database.
Printed: requests failed per phase and why, acknowledged writes lost (must be 0), seconds
until every host served the new model, seconds to recover after the database restart.

Every loop is bounded in time and count; everything (processes, namespaces, the cluster's
files) is removed at the end, on failure, on SIGTERM/Ctrl-C, and by a guard process if
this one is killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _netns
import httpx
from _graphql_calls import register_readers
from _httpx_driver import Outcome, Request, _send
from _load_ledger import Ledger, verify
from _machine import load_line, machine_info
from _script import exit_on_sigterm, log
from load import Mix, read_catalog

from tests.support.server import REPO, bookrec_command

PG_BIN = Path("/usr/lib/postgresql/15/bin")
API_PORT = 8000
LB_PORT = 8080
DB_HOST, WORKER_HOST, LB_HOST, CLIENT_HOST = "br-db", "br-worker", "br-lb", "br-client"
HEALTH_QUERY = "{ categories { id } }"


# --------------------------------------------------------------------------- processes


@dataclass
class Proc:
    """A long-running command inside a namespace, in its own process group."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.log_path.parent,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)

    def stop(self, grace: float = 15.0) -> None:
        if self.process is None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
        self.process = None

    def kill(self) -> None:
        if self.process is not None:
            self.signal(signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
            self.process = None


def run_logged(argv: Sequence[str], env: dict[str, str], log_path: Path, timeout: float) -> float:
    """Run to completion (bounded), output appended to `log_path`; the seconds it took."""
    started = time.monotonic()
    with open(log_path, "ab") as out:
        out.write(f"\n$ {' '.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            list(argv),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            rc = proc.wait(timeout=timeout)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            raise
    if rc != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-25:])
        raise RuntimeError(f"{' '.join(argv)} failed with exit code {rc}:\n{tail}")
    return time.monotonic() - started


def wait_for(what: str, condition: Callable[[], bool], timeout: float, every: float = 0.2) -> float:
    """Poll `condition` until true (at most `timeout` s, at most timeout/every tries)."""
    started = time.monotonic()
    for _ in range(int(timeout / every) + 1):
        if condition():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            break
        time.sleep(every)
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")


# --------------------------------------------------------------------------- PostgreSQL


class Postgres:
    """A PostgreSQL cluster of its own in the database namespace, run as the postgres user."""

    def __init__(self, net: _netns.Network, workdir: Path, address: str) -> None:
        self.net, self.address = net, address
        self.data = workdir / "pg-data"
        self.sockets = workdir / "pg-sockets"
        self.log_path = workdir / "postgres.log"
        self.password = secrets.token_hex(12)

    def _as_postgres(self, *argv: str, timeout: float = 120.0) -> str:
        return _netns.run(
            self.net.exec_argv(DB_HOST, ["runuser", "-u", "postgres", "--", *argv]),
            timeout=timeout,
        )

    def init(self) -> None:
        self.sockets.mkdir()
        pwfile = self.data.parent / "pg-pw"
        pwfile.write_text(secrets.token_hex(16) + "\n")
        self.log_path.touch()
        for path in (self.sockets, pwfile, self.log_path):
            shutil.chown(path, "postgres", "postgres")
        self.data.mkdir(mode=0o700)
        shutil.chown(self.data, "postgres", "postgres")
        self._as_postgres(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nlisten_addresses = '{self.address}'\nport = 5432\n"
                f"unix_socket_directories = '{self.sockets}'\nmax_connections = 200\n"
            )
        with open(self.data / "pg_hba.conf", "a") as hba:
            hba.write(f"\nhost all all {_netns.SUBNET}.0/24 scram-sha-256\n")
        self.start()
        self.psql(
            f"CREATE ROLE bookrec LOGIN PASSWORD '{self.password}'",
            "CREATE DATABASE bookrec OWNER bookrec",
        )

    def psql(self, *statements: str) -> None:
        for statement in statements:
            self._as_postgres(
                str(PG_BIN / "psql"), "-h", str(self.sockets), "-v", "ON_ERROR_STOP=1",
                "-qc", statement,
            )  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgresql://bookrec:{self.password}@{self.address}:5432/bookrec"

    def _ctl(self, *args: str, timeout: float = 120.0) -> None:
        self._as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log_path), "-w",
            "-t", "60", *args, timeout=timeout,
        )  # fmt: skip

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._ctl("stop", "-m", "immediate", timeout=60)


# --------------------------------------------------------------------------- haproxy


def ensure_tool(binary: str, package: str) -> str:
    """The path of `binary`, installing Debian's `package` with apt-get if it is missing
    (CI runs as root on a fresh machine)."""
    found = shutil.which(binary)
    if found:
        return found
    log(f"{binary} is missing: apt-get install {package}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", package], env=env, check=True, timeout=900)
    found = shutil.which(binary)
    if not found:
        raise SystemExit(f"rehearsal: {binary} could not be installed")
    return found


def haproxy_config(lb_address: str, api: dict[str, str]) -> str:
    servers = "\n".join(
        f"    server {name.removeprefix('br-')} {address}:{API_PORT} check"
        for name, address in api.items()
    )
    return f"""global
    maxconn 4096
    log stdout format raw local0 info

defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    # a connection refused (a dead host) is tried on another server: nothing was sent yet
    retries 2
    option redispatch

frontend bookrec
    bind {lb_address}:{LB_PORT}
    default_backend api

backend api
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter 500ms fastinter 250ms fall 2 rise 2
{servers}
"""


# --------------------------------------------------------------------------- the load


@dataclass
class Timeline:
    """Outcomes with the moment they ended (perf_counter: when the client learnt how they
    went), and the phases' boundaries: a request in flight when a fault began counts in the
    fault's phase."""

    outcomes: list[tuple[float, Outcome]] = field(default_factory=list)
    phases: list[tuple[str, float]] = field(default_factory=list)

    def mark(self, phase: str) -> None:
        self.phases.append((phase, time.perf_counter()))

    def phase_of(self, at: float) -> str:
        name = "warm-up"
        for phase, start in self.phases:
            if at >= start:
                name = phase
        return name


def drive_until(
    base_url: str,
    make: Callable[[int, int], Request],
    concurrency: int,
    max_requests: int,
    max_seconds: float,
    stop: threading.Event,
    on_outcome: Callable[[float, Outcome], None],
) -> None:
    """bench/_httpx_driver's virtual users, stopped by `stop` (or the bounds)."""

    async def main() -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        sent = 0
        async with contextlib.AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(
                    httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0)
                )
                for _ in range(concurrency)
            ]
            t0 = time.perf_counter()
            deadline = t0 + max_seconds

            async def vu(index: int) -> None:
                nonlocal sent
                seq = 0
                while sent < max_requests and time.perf_counter() < deadline and not stop.is_set():
                    sent += 1
                    outcome = await _send(clients[index], make(index, seq), t0)
                    seq += 1
                    on_outcome(t0 + outcome.started + outcome.latency, outcome)

            await asyncio.gather(*(vu(i) for i in range(concurrency)))

    asyncio.run(main())


# --------------------------------------------------------------------------- the rehearsal


def health(address: str, timeout: float = 2.0) -> dict[str, Any] | None:
    try:
        response = httpx.get(f"http://{address}:{API_PORT}/healthz", timeout=timeout)
    except httpx.HTTPError:
        return None
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        return None
    body["http_status"] = response.status_code
    return body


def serving_version(address: str) -> str | None:
    body = health(address)
    return None if body is None else (body.get("model") or {}).get("version")


def lb_answers(lb_url: str) -> bool:
    try:
        response = httpx.post(f"{lb_url}/graphql", json={"query": HEALTH_QUERY}, timeout=3)
        return response.status_code == 200 and not response.json().get("errors")
    except (httpx.HTTPError, ValueError):
        return False


class Rehearsal:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir = Path(tempfile.mkdtemp(prefix="bookrec-rehearsal-"))
        self.workdir.chmod(0o755)  # postgres must reach its directories inside
        self.net = _netns.Network()
        self.api: dict[str, str] = {}
        self.servers: dict[str, Proc] = {}
        self.haproxy: Proc | None = None
        self.pg: Postgres | None = None
        self.secret = secrets.token_urlsafe(48)
        self.load_before = load_line()
        self.lb_url = ""

    # ------------------------------------------------------------------ set-up

    def env(self, host: str, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOOKREC_")}
        assert self.pg is not None
        env.update(
            PYTHONPATH=str(REPO),
            PYTHONUNBUFFERED="1",
            TF_CPP_MIN_LOG_LEVEL="2",
            BOOKREC_ENV="production",
            BOOKREC_DATABASE_URL=self.pg.url,
            BOOKREC_SECRET_KEY=self.secret,
            BOOKREC_MODEL_STORE="database",
            BOOKREC_MODEL_CACHE_DIR=str(self.workdir / f"{host}-model-cache"),
            BOOKREC_MODEL_POLL_SECONDS="1",
            BOOKREC_LOG_LEVEL="INFO",
        )
        env.update(extra)
        return env

    def bookrec(self, host: str, *args: str) -> list[str]:
        return self.net.exec_argv(host, [*bookrec_command(), *args])

    def worker(self, *args: str, timeout: float) -> float:
        return run_logged(
            self.bookrec(WORKER_HOST, *args),
            self.env(WORKER_HOST),
            self.workdir / "worker.log",
            timeout,
        )

    def set_up(self) -> None:
        self.net.create()
        db_address = self.net.add_host(DB_HOST, 10)
        for i in range(1, self.args.api_hosts + 1):
            name = f"br-api{i}"
            self.api[name] = self.net.add_host(name, 10 + i)
        self.net.add_host(WORKER_HOST, 20)
        lb_address = self.net.add_host(LB_HOST, 30)
        self.net.add_host(CLIENT_HOST, 40)
        self.net.enter(CLIENT_HOST)  # this script is the client host from here on
        log(f"network: {len(self.net.namespaces)} namespaces on bridge {_netns.BRIDGE}")

        self.pg = Postgres(self.net, self.workdir, db_address)
        self.pg.init()
        log(f"PostgreSQL up in {DB_HOST} at {db_address}:5432")
        seconds = self.worker("init-db", timeout=300)
        seconds += self.worker("import", "demo", timeout=900)
        log(f"worker host: init-db + import demo in {seconds:.0f}s")
        seconds = self.worker(
            "train", "--epochs", str(self.args.epochs), "--seed", "1", timeout=1800
        )
        log(f"worker host: first model trained and published in {seconds:.0f}s")

        for name in self.api:
            self.start_api(name)
        for name, address in self.api.items():
            wait_for(f"{name} to serve", lambda a=address: self._healthy(a), timeout=180)
        log(f"{len(self.api)} API hosts ready")

        config = self.workdir / "haproxy.cfg"
        config.write_text(haproxy_config(lb_address, self.api))
        haproxy = ensure_tool("haproxy", "haproxy")
        self.haproxy = Proc(
            "haproxy",
            self.net.exec_argv(LB_HOST, [haproxy, "-f", str(config), "-db"]),
            dict(os.environ),
            self.workdir / "haproxy.log",
        )
        self.haproxy.start()
        self.lb_url = f"http://{lb_address}:{LB_PORT}"
        wait_for("the balancer to answer", lambda: lb_answers(self.lb_url), timeout=30)
        log(f"haproxy balancing {len(self.api)} hosts at {self.lb_url}")

    def start_api(self, name: str) -> None:
        proc = Proc(
            name,
            self.bookrec(name, "serve", "--host", self.api[name], "--port", str(API_PORT)),
            self.env(name),
            self.workdir / f"{name}.log",
        )
        proc.start()
        self.servers[name] = proc

    @staticmethod
    def _healthy(address: str) -> bool:
        body = health(address)
        return bool(
            body and body["http_status"] == 200 and (body.get("model") or {}).get("version")
        )

    # ------------------------------------------------------------------ the run

    def run(self) -> bool:
        args = self.args
        assert self.pg is not None
        database_url = self.pg.url
        book_ids, demo_readers, category_ids = read_catalog(database_url)
        rng = random.Random(args.seed)
        wanted = [
            [str(x) for x in rng.sample(category_ids, rng.randint(1, 3))]
            for _ in range(args.readers)
        ]
        readers = asyncio.run(register_readers(self.lb_url, f"rh{secrets.token_hex(3)}-", wanted))
        from schema.auth import Tokens

        tokens = Tokens(self.secret, 24 * 3600)
        demo_tokens = [
            tokens.issue(u) for u in rng.sample(demo_readers, min(300, len(demo_readers)))
        ]
        mix = Mix(rng, book_ids, category_ids, readers, demo_tokens, args.concurrency)
        ledger = Ledger()
        timeline = Timeline()
        lock = threading.Lock()

        def record(at: float, outcome: Outcome) -> None:
            with lock:
                ledger.record(outcome)
                timeline.outcomes.append((at, outcome))

        stop = threading.Event()
        budget = args.seconds_per_phase * 8 + 1800  # the hard bound, whatever the phases do
        driver = threading.Thread(
            target=drive_until,
            args=(self.lb_url, mix, args.concurrency, args.max_requests, budget, stop, record),
            name="load",
        )
        log(f"load: {args.concurrency} virtual users through {self.lb_url}")
        started = time.monotonic()
        timeline.mark("steady")
        driver.start()
        figures: dict[str, Any] = {}
        try:
            time.sleep(args.seconds_per_phase)
            figures.update(self.kill_and_return(timeline))
            time.sleep(args.seconds_per_phase / 2)
            figures.update(self.publish(timeline))
            time.sleep(args.seconds_per_phase / 2)
            figures.update(self.restart_database(timeline))
            timeline.mark("after")
            time.sleep(args.seconds_per_phase / 2)
        finally:
            stop.set()
            driver.join(timeout=120)
        elapsed = time.monotonic() - started
        load_after = load_line(after_run=True)

        for proc in self.servers.values():  # SIGTERM: each writes what it has buffered
            proc.stop()
        ok_db, lines = verify(database_url, ledger, [u for u, _ in readers])
        return self.print_report(timeline, ledger, figures, ok_db, lines, elapsed, load_after)

    def kill_and_return(self, timeline: Timeline) -> dict[str, Any]:
        name = next(iter(self.api))
        log(f"phase 1: SIGKILL {name}")
        timeline.mark(f"kill {name}")
        killed = time.monotonic()
        self.servers[name].kill()
        time.sleep(self.args.seconds_per_phase / 2)
        timeline.mark(f"{name} back")
        restarted = time.monotonic()
        self.start_api(name)
        back = wait_for(f"{name} to serve again", lambda: self._healthy(self.api[name]), 180)
        log(f"{name} serving again {back:.1f}s after its restart")
        return {
            "killed_host": name,
            "down_seconds": restarted - killed,
            "restart_to_healthy_s": back,
        }

    def publish(self, timeline: Timeline) -> dict[str, Any]:
        before = {n: serving_version(a) for n, a in self.api.items()}
        log(f"phase 2: train and publish on {WORKER_HOST} (serving: {before})")
        timeline.mark("publish")
        seen: dict[str, tuple[str | None, float]] = {}
        done = threading.Event()

        def probe() -> None:  # every host's own /healthz, not through the balancer
            for _ in range(100_000):  # bounded; ~0.1 s a round
                if done.is_set() or len(seen) == len(self.api):
                    return
                for name, address in self.api.items():
                    if name not in seen:
                        version = serving_version(address)
                        if version is not None and version != before[name]:
                            seen[name] = (version, time.time())
                time.sleep(0.1)

        prober = threading.Thread(target=probe, name="probe")
        prober.start()
        try:
            train_seconds = self.worker(
                "train", "--epochs", str(self.args.epochs), "--seed", "2", "--force", timeout=1800
            )
            version, switched_at = self.pointer()
            prober.join(timeout=120)
        finally:
            done.set()
            prober.join(timeout=10)
        wrong = {n: v for n, (v, _) in seen.items() if v != version}
        if len(seen) < len(self.api) or wrong:
            raise RuntimeError(f"not every host served {version} within 120 s: {seen}")
        lags = {n: t - switched_at for n, (_, t) in seen.items()}
        log(f"{version} published; served by every host {max(lags.values()):.2f}s after the switch")
        return {
            "new_version": version,
            "train_seconds": train_seconds,
            "all_serving_s": max(lags.values()),
            "per_host_s": lags,
        }

    def pointer(self) -> tuple[str, float]:
        import sqlalchemy as sa

        from db.engine import make_engine

        assert self.pg is not None
        engine = make_engine(self.pg.url)
        try:
            with engine.connect() as conn:
                row = conn.execute(
                    sa.text("SELECT version, switched_at FROM model_pointer WHERE id = 1")
                ).one()
        finally:
            engine.dispose()
        return str(row.version), row.switched_at.timestamp()

    def restart_database(self, timeline: Timeline) -> dict[str, Any]:
        assert self.pg is not None
        log("phase 3: restart PostgreSQL")
        timeline.mark("db restart")
        began = time.monotonic()
        self.pg.restart()
        restarted = time.monotonic()
        healthy = wait_for(
            "every host healthy after the restart",
            lambda: all(
                (b := health(a)) is not None and b["http_status"] == 200 for a in self.api.values()
            ),
            timeout=120,
            every=0.1,
        )
        through_lb = wait_for("the balancer to answer", lambda: lb_answers(self.lb_url), 120, 0.1)
        log(f"database restarted in {restarted - began:.1f}s; hosts healthy {healthy:.1f}s later")
        return {
            "db_restart_s": restarted - began,
            "hosts_healthy_after_s": healthy,
            "recovered_from_restart_start_s": time.monotonic() - began,
            "lb_answering_after_s": healthy + through_lb,
        }

    # ------------------------------------------------------------------ report

    def print_report(
        self,
        timeline: Timeline,
        ledger: Ledger,
        figures: dict[str, Any],
        ok_db: bool,
        verify_lines: list[str],
        elapsed: float,
        load_after: str,
    ) -> bool:
        outcomes = timeline.outcomes
        failed = [(at, o) for at, o in outcomes if not o.ok]
        print()
        print(
            f"{len(outcomes)} requests in {elapsed:.0f} s through haproxy "
            f"({len(self.api)} API hosts); failed: {len(failed)} "
            f"({100 * len(failed) / max(1, len(outcomes)):.2f}%)"
        )
        per_phase = Counter(timeline.phase_of(at) for at, _ in outcomes)
        failed_phase = Counter(timeline.phase_of(at) for at, _ in failed)
        print("requests by phase (failed / all):")
        for phase, _ in timeline.phases:
            print(f"  {phase:<16} {failed_phase.get(phase, 0):5d} / {per_phase.get(phase, 0)}")
        if failed:
            print("failures by phase, kind and reason:")
            reasons = Counter(
                (timeline.phase_of(at), (o.error or "").splitlines()[0][:90]) for at, o in failed
            )
            order = [phase for phase, _ in timeline.phases]
            for (phase, reason), n in sorted(
                reasons.items(), key=lambda item: (order.index(item[0][0]), -item[1])
            )[:30]:
                print(f"  {n:5d}  [{phase}] {reason}")
        print("\nverification of acknowledged writes against the database:")
        for line in verify_lines:
            print("  " + line)
        lost = 0 if ok_db else "SOME (see above)"
        print(f"acknowledged writes lost: {lost}")
        print(
            f"\nhost kill: {figures['killed_host']} SIGKILLed, down {figures['down_seconds']:.1f}s, "
            f"serving {figures['restart_to_healthy_s']:.1f}s after its restart"
        )
        per_host = ", ".join(f"{n} {s:.2f}s" for n, s in sorted(figures["per_host_s"].items()))
        print(
            f"publish: {figures['new_version']} trained and published by {WORKER_HOST} in "
            f"{figures['train_seconds']:.0f}s; every host served it "
            f"{figures['all_serving_s']:.2f}s after CURRENT switched ({per_host}; "
            f"poll interval 1 s)"
        )
        print(
            f"database restart: pg_ctl restart took {figures['db_restart_s']:.1f}s; every host "
            f"healthy {figures['hosts_healthy_after_s']:.1f}s after it, the balancer answering "
            f"{figures['lb_answering_after_s']:.1f}s after it "
            f"({figures['recovered_from_restart_start_s']:.1f}s from the restart's start)"
        )
        print(load_after)
        print(f"at the start: {self.load_before}")
        ok = ok_db
        print(f"\nverdict: {'PASS' if ok else 'FAIL'} (0 acknowledged writes lost)")
        return ok

    # ------------------------------------------------------------------ clean-up

    def tear_down(self) -> None:
        for proc in self.servers.values():
            proc.kill()
        if self.haproxy is not None:
            self.haproxy.kill()
        if self.pg is not None:
            self.pg.stop()
        self.net.teardown()
        if self.args.keep:
            log(f"kept {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the short form CI runs")
    parser.add_argument("--api-hosts", type=int, default=None, help="2 or 3 (default 3, quick 2)")
    parser.add_argument("--seconds-per-phase", type=float, default=None, help="default 20, quick 6")
    parser.add_argument("--concurrency", type=int, default=None, help="default 24, quick 8")
    parser.add_argument("--readers", type=int, default=None, help="default 48, quick 16")
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=2, help="of each `bookrec train`")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args(argv)
    args.api_hosts = args.api_hosts or (2 if args.quick else 3)
    args.seconds_per_phase = args.seconds_per_phase or (6.0 if args.quick else 20.0)
    args.concurrency = args.concurrency or (8 if args.quick else 24)
    args.readers = args.readers or (16 if args.quick else 48)
    if not 1 <= args.api_hosts <= 8:
        parser.error("--api-hosts must be between 1 and 8")
    if os.geteuid() != 0:
        print("rehearsal: needs root (network namespaces, a PostgreSQL cluster of its own)")
        return 2
    ensure_tool("ip", "iproute2")
    ensure_tool("runuser", "util-linux")
    ensure_tool("haproxy", "haproxy")  # before anything is built
    if not (PG_BIN / "initdb").is_file():
        print(f"rehearsal: PostgreSQL 15 binaries not found in {PG_BIN} (scripts/postgres.sh)")
        return 2

    print("bookrec multi-host rehearsal", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))
    for line in machine_info():
        print(line)
    rehearsal = Rehearsal(args)
    guard = _netns.start_guard([] if args.keep else [str(rehearsal.workdir)])
    try:
        rehearsal.set_up()
        ok = rehearsal.run()
        return 0 if ok else 1
    finally:
        rehearsal.tear_down()
        left = _netns.existing()
        print(f"clean-up: namespaces left {left or 'none'}", flush=True)
        del guard  # it ends by itself once this process has (finding nothing left to do)


if __name__ == "__main__":
    sys.exit(main())
