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

from _commands import BOOKREC, bookrec_env, run_bookrec  # noqa: E402
from _machine import machine_info  # noqa: E402  (shared by the benchmarks)
from _synthetic import (  # noqa: E402
    REAL_BOOKS,
    histogram_stars,
    reader_activity,
    unique_pairs,
    write_goodbooks_ratings,
)

DEFAULT_CACHE = Path.home() / ".cache" / "bookrec" / "import-bench"
GOODBOOKS_READERS = 53_424


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
    activity = reader_activity(rng, readers)
    user_index, book_index = unique_pairs(rng, activity, popularity, n, oversample=1.1)
    # Sorted by reader, each reader's books in random order (as in goodbooks' ratings.csv).
    order = np.argsort(user_index, kind="stable")
    user_ids, book_index = user_index[order] + 1, book_index[order]
    bad_at = rng.choice(n, size=bad_lines, replace=False).tolist() if bad_lines else []
    stars = histogram_stars(rng, books, book_index)
    write_goodbooks_ratings(path, user_ids, book_ids[book_index], stars, bad_at)


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
    env = bookrec_env(database_url=url)
    subprocess.run([str(BOOKREC), "init-db"], env=env, check=True, stdout=subprocess.DEVNULL)
    command = ["import", "goodbooks", str(directory)]
    if skip_invalid:
        command += ["--skip-invalid", "--report", str(directory.parent / f"refused-{backend}.csv")]
    done = run_bookrec(command, env)
    inserted = re.search(r"ratings ([\d,]+) new", done.output)
    refused = re.search(r"Refused ([\d,]+) invalid", done.output)
    return Run(
        backend=backend,
        seconds=done.seconds,
        peak_rss_mb=done.peak_rss_mb,
        inserted=int(inserted.group(1).replace(",", "")) if inserted else 0,
        refused=int(refused.group(1).replace(",", "")) if refused else 0,
        summary=done.output.strip(),
        ok=done.returncode == 0 and inserted is not None,
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
