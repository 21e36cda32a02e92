"""Import benchmark: `bookrec import goodbooks DIR` at a real shop's size, on each backend.

    python bench/importing.py [--ratings 6000000] [--readers 53424] [--quick]
                              [--database-url postgresql://...] [--sqlite-only] [--seed N]
                              [--bad-lines K] [--cache DIR]

1. Generate (seeded, numpy, written to disk in chunks) a goodbooks-layout directory: the real
   10,000-book catalog (books.csv of goodbooks-10k, CC BY-SA 4.0) and N synthetic ratings by
   ~53,000 readers, with a skewed reader activity (lognormal) and book popularity (the real
   ratings_count ** 0.75), stars drawn from each book's real star histogram, one line per
   (reader, book), sorted by reader as goodbooks' own ratings.csv is. Cached under
   ~/.cache/bookrec/import-bench/ (never in the repository). `--bad-lines K` puts K broken
   lines at seeded positions and imports with `--skip-invalid`.
2. For each backend, a fresh database migrated by `bookrec init-db` (not timed), then
   `bookrec import goodbooks DIR` as a subprocess: its wall time, its peak RSS (wait4's
   rusage of that process alone) and ratings per second.

SQLite always (in a temporary directory); PostgreSQL with `--database-url` or, without it,
when BOOKREC_TEST_DATABASE_URL is set (e.g. by `scripts/postgres.sh`): a server URL whose
role may create databases; the benchmark creates its own database and drops it afterwards.
`--quick` (200,000 ratings) is the CI smoke run. The exit status is 1 when an import fails or
does not insert every valid rating.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine_info  # noqa: E402  (shared by the benchmarks)

BOOKREC = Path(sys.executable).parent / "bookrec"
# The real 10,000-book catalog, in the shared data folder beside the checkout (two levels up
# from a worktree); without it (a clone elsewhere), the demo's 2,500 real books shipped here.
_CATALOGS = [
    base / "shared" / "data" / "goodbooks-10k" / "books.csv"
    for base in (ROOT.parent, ROOT.parent.parent)
] + [ROOT / "db" / "demo_data" / "books.csv"]
REAL_BOOKS = next((path for path in _CATALOGS if path.is_file()), _CATALOGS[-1])
DEFAULT_CACHE = Path.home() / ".cache" / "bookrec" / "import-bench"
GOODBOOKS_READERS = 53_424
WRITE_CHUNK = 500_000


# --------------------------------------------------------------------------- the data


def dataset(cache: Path, books: Path, ratings: int, readers: int, seed: int, bad: int) -> Path:
    """The cached goodbooks-layout directory, generated on first use."""
    catalog = "goodbooks" if books.parent.name == "goodbooks-10k" else books.parent.name
    target = cache / (f"{catalog}-{ratings}-r{readers}-s{seed}" + (f"-bad{bad}" if bad else ""))
    if (target / "DONE").is_file():
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    shutil.copyfile(books, partial / "books.csv")
    started = time.perf_counter()
    # In a process of its own: a forked import would otherwise start with (and report as its
    # peak RSS) the generator's hundreds of megabytes of arrays.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(
            write_ratings, partial / "ratings.csv", books, ratings, readers, seed, bad
        ).result()
    (partial / "DONE").write_text("complete\n")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    print(f"generated {target} in {time.perf_counter() - started:.1f}s", flush=True)
    return target


def write_ratings(
    path: Path, books_csv: Path, n: int, readers: int, seed: int, bad_lines: int
) -> None:
    rng = np.random.default_rng(seed)
    books = pd.read_csv(books_csv)
    book_ids = books["book_id"].to_numpy(dtype=np.int64)
    popularity = books["ratings_count"].to_numpy(dtype=np.float64) ** 0.75
    popularity /= popularity.sum()
    activity = rng.lognormal(0.0, 1.0, readers)
    activity /= activity.sum()

    # Unique (reader, book) pairs: draw with replacement, drop repeats, draw again.
    n_books = len(book_ids)
    pairs = np.empty(0, dtype=np.int64)
    while pairs.size < n:
        need = int((n - pairs.size) * 1.1) + 1000
        users = rng.choice(readers, need, p=activity)
        picks = rng.choice(n_books, need, p=popularity)
        pairs = np.unique(np.concatenate([pairs, users.astype(np.int64) * n_books + picks]))
    pairs = rng.permutation(pairs)[:n]
    # Sorted by reader, each reader's books in random order (as in goodbooks' ratings.csv).
    pairs = pairs[np.argsort(pairs // n_books, kind="stable")]
    user_ids, book_index = pairs // n_books + 1, pairs % n_books

    histogram = books[[f"ratings_{k}" for k in range(1, 6)]].to_numpy(dtype=np.float64)
    cdf = np.cumsum(histogram / histogram.sum(axis=1, keepdims=True), axis=1)[:, :4]
    bad_at = set(rng.choice(n, size=bad_lines, replace=False).tolist()) if bad_lines else set()
    broken = ["1,2", "x,1,5", "1,1,9", "1,999999,3", ",1,4"]
    with open(path, "w", encoding="ascii", newline="\n") as out:
        out.write("user_id,book_id,rating\n")
        for start in range(0, n, WRITE_CHUNK):
            sl = slice(start, start + WRITE_CHUNK)
            stars = 1 + (rng.random(len(user_ids[sl]))[:, None] > cdf[book_index[sl]]).sum(1)
            columns = np.column_stack([user_ids[sl], book_ids[book_index[sl]], stars])
            lines = ("%d,%d,%d\n" * len(columns)) % tuple(columns.ravel().tolist())
            if bad_at:
                rows = lines.split("\n")
                for i in sorted(b - start for b in bad_at if start <= b < start + WRITE_CHUNK):
                    rows[i] = broken[i % len(broken)]
                lines = "\n".join(rows)
            out.write(lines)


# --------------------------------------------------------------------------- the runs


@dataclass
class Run:
    backend: str
    seconds: float
    peak_rss_mb: float
    inserted: int
    refused: int
    summary: str
    ok: bool


def run_import(backend: str, url: str, directory: Path, skip_invalid: bool) -> Run:
    env = {**os.environ, "BOOKREC_DATABASE_URL": url, "BOOKREC_LOG_LEVEL": "WARNING"}
    subprocess.run([str(BOOKREC), "init-db"], env=env, check=True, stdout=subprocess.DEVNULL)
    command = [str(BOOKREC), "import", "goodbooks", str(directory)]
    if skip_invalid:
        command += ["--skip-invalid", "--report", str(directory.parent / f"refused-{backend}.csv")]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    print(output.strip(), flush=True)
    inserted = re.search(r"ratings ([\d,]+) new", output)
    refused = re.search(r"Refused ([\d,]+) invalid", output)
    return Run(
        backend=backend,
        seconds=seconds,
        peak_rss_mb=usage.ru_maxrss / 1024,  # Linux: KiB
        inserted=int(inserted.group(1).replace(",", "")) if inserted else 0,
        refused=int(refused.group(1).replace(",", "")) if refused else 0,
        summary=output.strip(),
        ok=process.returncode == 0 and inserted is not None,
    )


def postgres_database(server_url: str) -> tuple[str, str]:
    """(URL of a new database, its name) on the server of `server_url`."""
    import sqlalchemy as sa

    from db.engine import make_engine, normalize_url

    name = f"bookrec_import_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    url = sa.make_url(normalize_url(server_url)).set(database=name)
    return url.render_as_string(hide_password=False), name


def drop_postgres_database(server_url: str, name: str) -> None:
    from db.engine import make_engine

    admin = make_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


# --------------------------------------------------------------------------- report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=6_000_000)
    parser.add_argument("--readers", type=int, default=GOODBOOKS_READERS)
    parser.add_argument("--quick", action="store_true", help="200,000 ratings (CI)")
    parser.add_argument("--database-url", default=os.environ.get("BOOKREC_TEST_DATABASE_URL"))
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--bad-lines", type=int, default=0)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--books", type=Path, default=REAL_BOOKS)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)
    n = 200_000 if args.quick else args.ratings
    readers = min(args.readers, max(1000, n // 20)) if args.quick else args.readers

    directory = dataset(args.cache, args.books, n, readers, args.seed, args.bad_lines)
    print("\n".join(machine_info()), flush=True)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bookrec-import-bench-") as tmp:
        runs.append(
            run_import(
                "sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", directory, args.bad_lines > 0
            )
        )
    if args.database_url and not args.sqlite_only:
        url, name = postgres_database(args.database_url)
        try:
            runs.append(run_import("postgresql", url, directory, args.bad_lines > 0))
        finally:
            drop_postgres_database(args.database_url, name)

    print(f"\n{n:,} ratings by {readers:,} readers, {args.bad_lines:,} bad lines")
    print(
        f"{'backend':12s} {'wall s':>8s} {'ratings/s':>11s} {'peak RSS MB':>12s} {'inserted':>11s} {'refused':>8s}"
    )
    for r in runs:
        print(
            f"{r.backend:12s} {r.seconds:8.1f} {r.inserted / r.seconds:11,.0f} "
            f"{r.peak_rss_mb:12,.0f} {r.inserted:11,} {r.refused:8,}"
        )
    one, five, _ = os.getloadavg()
    print(f"load average after: {one:.2f} (1 min), {five:.2f} (5 min), the imports' own included")
    expected = n - args.bad_lines
    failed = [r.backend for r in runs if not r.ok or r.inserted != expected]
    if failed:
        print(f"FAILED: {', '.join(failed)} (expected {expected:,} ratings inserted)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
