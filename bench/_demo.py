"""The demo set-up every serving benchmark starts from: a database with the demo catalog
(``bookrec init-db`` + ``bookrec import demo``), the default model trained on it (cached
between runs under ~/.cache/bookrec/bench, keyed by the demo data and the training code),
and ``bookrec serve`` over both.

Nothing here imports tensorflow: training runs in a ``bookrec train`` subprocess."""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from _script import log

from tests.support.server import (
    REPO,
    Server,
    bookrec_command,
    bookrec_env,
    bookrec_server,
    kill_group,
)

CACHE = Path(os.environ.get("BOOKREC_CACHE", Path.home() / ".cache" / "bookrec")) / "bench"
SETUP_SECRET = "x" * 48  # set-up commands sign nothing a server will read


def new_workdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return url


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def run_logged(
    argv: Sequence[str], env: dict[str, str], cwd: Path, log_path: Path, timeout: float
) -> None:
    """Run a set-up command to completion, its output into ``log_path``; raise with the log's
    tail if it fails or overruns (its whole process group is killed then)."""
    with open(log_path, "ab") as out:
        out.write(f"\n$ {' '.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            list(argv),
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            raise RuntimeError(
                f"{' '.join(argv)} took over {timeout:.0f}s\n{_tail(log_path)}"
            ) from None
        except BaseException:
            kill_group(proc)
            raise
    if rc != 0:
        raise RuntimeError(f"{' '.join(argv)} failed with exit code {rc}:\n{_tail(log_path)}")


def _fingerprint(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(REPO).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def model_cache_dir() -> Path:
    """Where the default model trained on the demo data is kept between runs: keyed by the demo
    files and the training code, so a change to either trains again."""
    files = [
        *(REPO / "db" / "demo_data").glob("*.csv"),
        *(REPO / "training").rglob("*.py"),
        *(REPO / "artifact").rglob("*.py"),
    ]
    return CACHE / f"models-{_fingerprint(files)}"


def prepare_database(database_url: str, workdir: Path, log_path: Path) -> None:
    """``bookrec init-db`` and ``bookrec import demo`` (idempotent: an imported db is kept)."""
    env = bookrec_env(database_url, workdir / "unused-models", SETUP_SECRET)
    t0 = time.monotonic()
    run_logged([*bookrec_command(), "init-db"], env, workdir, log_path, timeout=300)
    run_logged([*bookrec_command(), "import", "demo"], env, workdir, log_path, timeout=600)
    log(f"database ready in {time.monotonic() - t0:.1f}s: {redact(database_url)}")


def prepare_model(model_dir: Path | None, database_url: str, workdir: Path, log_path: Path) -> Path:
    """A models directory with a CURRENT default model: ``model_dir`` if given, else the cache
    (trained there with ``bookrec train`` on the demo database if it has none yet)."""
    from artifact import ModelStore

    def current_version(models: Path) -> str | None:
        return ModelStore(models).current()

    if model_dir is not None:
        if current_version(model_dir) is None:
            raise SystemExit(f"--model-dir {model_dir}: no current model in it")
        log(f"using model {current_version(model_dir)} in {model_dir}")
        return model_dir
    cached = model_cache_dir()
    if current_version(cached) is not None:
        log(f"using cached model {current_version(cached)} in {cached}")
        return cached
    cached.mkdir(parents=True, exist_ok=True)
    log(f"training the default model into {cached} (about a minute; output in {log_path})")
    t0 = time.monotonic()
    env = bookrec_env(database_url, cached, SETUP_SECRET)
    run_logged([*bookrec_command(), "train"], env, workdir, log_path, timeout=1800)
    if current_version(cached) is None:
        raise RuntimeError(f"training published no current model in {cached}:\n{_tail(log_path)}")
    log(f"trained model {current_version(cached)} in {time.monotonic() - t0:.0f}s")
    return cached


def read_catalog(database_url: str) -> tuple[list[int], list[int], list[int]]:
    """(book ids, ids of the demo readers who rated, category ids) of a demo database. Readers
    registered later by a benchmark (ids above the demo's 3,000) are left out."""
    import sqlalchemy as sa

    from db.engine import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            books = [r[0] for r in conn.execute(sa.text("SELECT id FROM book ORDER BY id"))]
            cats = [r[0] for r in conn.execute(sa.text("SELECT id FROM category ORDER BY id"))]
            readers = [
                r[0]
                for r in conn.execute(
                    sa.text(
                        "SELECT DISTINCT user_id FROM rating WHERE user_id <= 3000 ORDER BY user_id"
                    )
                )
            ]
    finally:
        engine.dispose()
    return books, readers, cats


def start_bookrec(
    database_url: str,
    model_dir: Path,
    secret_key: str,
    workdir: Path,
    workers: int = 1,
    name: str = "bookrec",
    **extra_env: str,
) -> Server:
    """``bookrec serve`` started and ready (every worker answered /healthz)."""
    env = bookrec_env(database_url, model_dir, secret_key, **extra_env)
    server = bookrec_server(env, workdir / f"{name}.log", workers, name, cwd=workdir)
    t0 = time.monotonic()
    server.start(timeout=120)
    log(f"{name} ready on {server.url} ({workers} worker(s)) in {time.monotonic() - t0:.1f}s")
    return server
