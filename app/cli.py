"""The `bookrec` command line."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from app.logs import configure_logging
from app.native_stderr import filter_tensorflow_chatter
from app.settings import ConfigError, Settings, load_settings
from app.tables import metrics_table, training_runs_table
from training import archs  # names only: TensorFlow loads when an architecture is used

log = logging.getLogger("bookrec.cli")


def _init_db(settings: Settings) -> None:
    from db.schema_setup import upgrade

    upgrade(settings.database_url)
    print(f"database ready: {settings.database_url}")


def _import(settings: Settings, args: argparse.Namespace) -> None:
    from db import importers
    from db.engine import make_engine

    if getattr(args, "report", None) and not args.skip_invalid:
        raise SystemExit("--report is the list of lines --skip-invalid refuses: add --skip-invalid")
    engine = make_engine(settings.database_url)
    try:
        if args.source == "demo":
            report = importers.import_demo(engine, progress=sys.stderr.isatty())
        else:
            importer = (
                importers.import_goodbooks
                if args.source == "goodbooks"
                else importers.import_movielens
            )
            options = importers.ImportOptions(
                skip_invalid=args.skip_invalid,
                refused_report=Path(args.report) if args.report else None,
            )
            # tqdm draws on a terminal only; in a log file a bar is noise.
            report = importer(engine, Path(args.directory), sys.stderr.isatty(), options)
    finally:
        engine.dispose()
    print(report.summary())


BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _serve(settings: Settings, host: str, port: int, workers: int) -> None:
    import shutil
    import tempfile

    import uvicorn

    # One BLAS thread per request: requests already run in parallel (worker threads and
    # processes), and OpenBLAS' own threads busy-wait between the small products of a
    # fold-in or a "because", taking a core from the other requests. Set before the server
    # (or any worker it spawns) imports numpy.
    for name in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(name, "1")
    if settings.graphiql_enabled:
        print(f"GraphiQL: http://{host}:{port}/graphql", flush=True)
    metrics_dir = None
    if settings.metrics_mode != "off":
        # prometheus-client's multiprocess mode: every worker (spawned after this, so they
        # inherit it) writes its metrics here; a fresh directory per server run, removed
        # on the way out. Set before anything imports prometheus_client in this process.
        metrics_dir = tempfile.mkdtemp(prefix="bookrec-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        print(f"metrics: http://{host}:{port}/metrics", flush=True)
    try:
        uvicorn.run(
            "app.main:create_app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=settings.log_level.lower(),
            log_config=None,
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _train(
    settings: Settings,
    arch: str = "default",
    epochs: int | None = None,
    seed: int = 42,
    force: bool = False,
) -> None:
    # TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notes) says nothing useful here:
    # its log level is set by `training` itself (imported above), the rest is filtered.
    filter_tensorflow_chatter()
    logging.getLogger("tf2onnx").setLevel(logging.WARNING)
    try:
        from training.pipeline import train
    except ImportError as exc:
        raise SystemExit(
            f"training needs the 'train' extra (pip install 'bookrec[train]'): {exc}"
        ) from None
    from app.model_store import build_model_store

    with contextlib.closing(build_model_store(settings)) as store:
        result = train(
            settings.database_url, store, arch=arch, epochs=epochs, seed=seed, force=force
        )
    title = (
        "Held-out evaluation (per-user 25% split, model fit on the training part only, "
        f"scored through ONNX); {result.gate}"
    )
    rows = [
        (f"{result.arch} {result.version}", {**result.metrics, "fit s": result.fit_seconds}),
        ("most-rated", result.baseline_metrics),
    ]
    print(metrics_table(rows, title, extra=("fit s",)))
    state = "published as current" if result.published else "kept, NOT made current"
    print(f"model {result.version} {state}: {result.path}")


def _worker(settings: Settings, args: argparse.Namespace) -> None:
    from app.model_store import build_model_store
    from app.worker import RetrainWorker, Schedule, TrainOutcome
    from db.engine import make_engine

    engine = make_engine(settings.database_url)
    store = build_model_store(settings, engine)  # where the servers look for CURRENT
    try:
        if args.worker_command == "runs":
            from db.training_runs import recent_runs

            print(training_runs_table(recent_runs(engine, args.limit)))
            return
        filter_tensorflow_chatter()
        logging.getLogger("tf2onnx").setLevel(logging.WARNING)
        try:
            from training.incremental import WarmOptions
            from training.pipeline import train
        except ImportError as exc:
            raise SystemExit(
                f"the worker needs the 'train' extra (pip install 'bookrec[train]'): {exc}"
            ) from None
        warm = WarmOptions(cold=args.cold, max_change=settings.warm_max_change)

        def run_training(cold: bool, before_publish: Callable[[], None]) -> TrainOutcome:
            return train(
                settings.database_url,
                store,
                arch=settings.retrain_arch,
                epochs=settings.retrain_epochs,
                warm=WarmOptions(cold=True) if cold else warm,
                before_publish=before_publish,
            )

        worker = RetrainWorker(
            engine,
            store,
            run_training,
            Schedule(
                every_hours=settings.retrain_every_hours,
                after_ratings=settings.retrain_after_ratings,
                poll_seconds=settings.worker_poll_seconds,
                lease_seconds=settings.worker_lease_seconds,
            ),
        )
        worker.handle_signals()
        if args.once or args.now:
            from app.worker import Abandoned

            try:
                run = worker.run_once(manual=args.now, cold=args.cold)
            except Abandoned:
                raise SystemExit(143) from None
            if run is None:
                print("nothing trained (not due, or another worker holds the lease)")
            else:
                print(training_runs_table([run]))
                if run.status == "failed":
                    raise SystemExit(1)
        else:
            worker.run_forever(cold=args.cold)
    finally:
        store.close()
        engine.dispose()


def _evaluate(settings: Settings, args: argparse.Namespace) -> None:
    from app.model_store import build_model_store
    from training.pipeline import evaluate

    if args.model:
        model = Path(args.model)
    else:
        with contextlib.closing(build_model_store(settings)) as store:
            current = store.current()
            if current is None:
                raise SystemExit(f"bookrec: no current model in {store}")
            model = store.path(current)
    result = evaluate(settings.database_url, model)
    print(metrics_table(result.rows, result.title))


def _model(settings: Settings, args: argparse.Namespace) -> None:
    from app.model_store import build_model_store
    from inference import Recommender

    with contextlib.closing(build_model_store(settings)) as store:
        if args.model_command == "experiment":
            _experiment(settings, store, args)
        elif args.model_command == "rollback":
            version = store.rollback(check=Recommender.load)
            print(f"current model is now {version}")
        else:
            current = store.current()
            for version in store.versions():
                print(("* " if version == current else "  ") + version)


def _experiment(settings: Settings, store: Any, args: argparse.Namespace) -> None:
    """Experiments live in the database (every server and host reads the same one); model
    versions are checked through the model store, as publishing does."""
    from datetime import UTC, datetime, timedelta

    from sqlmodel import Session

    from app.online_report import experiment_text
    from db import experiments
    from db.engine import make_engine
    from db.errors import DataError
    from inference import Recommender
    from recommend import experiment_report
    from recommend.experiments import new_salt

    engine = make_engine(settings.database_url)
    action = args.experiment_command
    try:
        with Session(engine, expire_on_commit=False) as session:
            if action == "start":
                version, current = args.version, store.current()
                if version not in store.versions():
                    raise SystemExit(f"bookrec: no model version {version} in the store")
                if version == current:
                    raise SystemExit(f"bookrec: {version} is the current version already")
                if not 0 < args.share < 1:
                    raise SystemExit("bookrec: --share must be between 0 and 1 (exclusive)")
                Recommender.load(store.path(version))  # refuse a version that cannot serve
                row = experiments.start_experiment(
                    session, version, current, args.share, new_salt()
                )
                session.commit()
                print(
                    f"experiment {row.id} started: {version} to {args.share:.0%} of readers, "
                    f"control {current or '(none)'}; servers follow within "
                    f"{settings.model_poll_seconds:g} s"
                )
            elif action in ("stop", "promote"):
                running = experiments.running_experiment(session)
                if running is None:
                    raise SystemExit("bookrec: no experiment is running")
                if action == "promote":  # the store's publish path, with its check
                    store.publish(running.version, check=Recommender.load)
                row = experiments.end_experiment(
                    session, "promoted" if action == "promote" else "stopped"
                )
                session.commit()
                what = f"; {row.version} is now current" if action == "promote" else ""
                print(f"experiment {row.id} {row.outcome}{what}")
            else:
                latest = experiments.latest_experiment(session)
                if latest is None:
                    print("no experiment has been run")
                    return
                report = experiment_report(
                    session, latest, datetime.now(UTC), timedelta(days=settings.attribution_days)
                )
                print(experiment_text(report))
    except DataError as exc:
        raise SystemExit(f"bookrec: {exc}") from None
    finally:
        engine.dispose()


def _report(settings: Settings, args: argparse.Namespace) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlmodel import Session

    from app.online_report import experiment_text, metrics_text, parse_time, write_chart
    from db import experiments
    from db.engine import make_engine
    from recommend import experiment_report, online_metrics

    now = datetime.now(UTC)
    try:
        until = parse_time(args.until, now) if args.until else now
        since = parse_time(args.since, now) if args.since else until - timedelta(days=7)
    except ValueError as exc:
        raise SystemExit(f"bookrec: {exc}") from None
    if since >= until:
        raise SystemExit("bookrec: --since must be before --until")
    if args.bucket_minutes < 1:
        raise SystemExit("bookrec: --bucket-minutes must be at least 1")
    attribution = timedelta(days=settings.attribution_days)
    engine = make_engine(settings.database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            metrics = online_metrics(session, since, until, attribution, args.bucket_minutes * 60)
            print(metrics_text(metrics))
            latest = experiments.latest_experiment(session)
            if latest is not None:
                print()
                print(experiment_text(experiment_report(session, latest, now, attribution)))
    finally:
        engine.dispose()
    if args.chart:
        try:
            write_chart(metrics, Path(args.chart), args.bucket_minutes)
        except ImportError as exc:
            raise SystemExit(
                f"bookrec: --chart needs matplotlib (pip install 'bookrec[report]'): {exc}"
            ) from None
        print(f"chart: {args.chart}")


def _prune(settings: Settings, args: argparse.Namespace) -> None:
    from datetime import UTC, datetime, timedelta

    from db.engine import make_engine
    from db.lists import prune_lists

    days = settings.impression_retention_days if args.older_than is None else args.older_than
    if days < 0 or args.batch < 1:
        raise SystemExit("bookrec: --older-than must not be negative, --batch at least 1")
    before = datetime.now(UTC) - timedelta(days=days)
    engine = make_engine(settings.database_url)
    try:
        pruned = prune_lists(engine, before, batch=args.batch)
    finally:
        engine.dispose()
    print(
        f"pruned lists served before {before:%Y-%m-%d %H:%M} UTC: {pruned.lists} lists, "
        f"{pruned.items} positions, {pruned.opens} opens"
    )


def _user(settings: Settings, args: argparse.Namespace) -> None:
    from sqlmodel import Session

    from db import readers
    from db.engine import make_engine
    from db.errors import NotFound

    engine = make_engine(settings.database_url)
    try:
        if args.user_command == "export":
            _export_user(engine, args.name, args.output)
            return
        with Session(engine) as session:
            staff = args.user_command == "grant-staff"
            try:
                user = readers.set_staff(session, args.name, staff)
            except NotFound as exc:
                raise SystemExit(f"bookrec: {exc}") from None
            session.commit()
            print(f"{user.username} is {'now' if staff else 'no longer'} staff")
    finally:
        engine.dispose()


def _export_user(engine: Any, name: str, output: str | None) -> None:
    """A reader's data as JSON: to stdout, or written whole to `output` (a temporary file
    renamed into place, private to the user: it is personal data)."""
    import json

    from sqlmodel import Session

    from db.accounts import export_user

    with Session(engine) as session:
        data = export_user(session, name)
    if data is None:
        raise SystemExit(f"bookrec: No user named '{name}'.")
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    path = Path(output)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise SystemExit(f"bookrec: cannot write {output}: {exc.strerror or exc}") from None
    counts = ", ".join(f"{len(data[k])} {k}" for k in ("ratings", "feedback", "lists"))
    print(f"wrote {path} ({data['profile']['username']}: {counts})", file=sys.stderr)


def _demo(settings: Settings, args: argparse.Namespace) -> None:
    """The main job: migrate, load the demo catalog, train a model, serve."""
    from app.model_store import build_model_store
    from db import importers
    from db.engine import make_engine

    _init_db(settings)
    engine = make_engine(settings.database_url)
    try:
        print(importers.import_demo(engine).summary())
    finally:
        engine.dispose()
    with contextlib.closing(build_model_store(settings)) as store:
        current = store.current()
        where = str(store)
    if current is None or args.retrain:
        _train(settings)
    else:
        print(f"using the current model in {where} (--retrain to train again)")
    _serve(settings, args.host, args.port, args.workers)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bookrec", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("init-db", help="create or migrate the database to the latest schema")

    imp = sub.add_parser("import", help="import a dataset into the database")
    imp_sub = imp.add_subparsers(dest="source", required=True)
    imp_sub.add_parser("demo", help="the demo catalog and synthetic readers shipped with bookrec")
    for name, what in (
        ("goodbooks", "goodbooks-10k"),
        ("movielens", "MovieLens 100K/latest-small"),
    ):
        p = imp_sub.add_parser(name, help=f"a {what} directory")
        p.add_argument("directory")
        p.add_argument(
            "--skip-invalid",
            action="store_true",
            help="import the good rating lines and refuse the bad ones, each listed with its "
            "reason in the report (default: refuse the whole import and write nothing)",
        )
        p.add_argument(
            "--report",
            metavar="PATH",
            help="with --skip-invalid: the CSV of refused lines "
            "(default: ./bookrec-refused-<dataset>-<UTC time>.csv)",
        )

    def server_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8000)
        p.add_argument("--workers", type=int, default=1)

    server_options(sub.add_parser("serve", help="run the GraphQL server"))

    train = sub.add_parser("train", help="train, evaluate and publish a model")
    train.add_argument("--arch", choices=archs.NAMES, default="default")
    train.add_argument("--epochs", type=int, default=None)
    train.add_argument("--seed", type=int, default=42)
    train.add_argument("--force", action="store_true", help="publish even if worse than current")

    worker = sub.add_parser(
        "worker",
        help="retrain by itself: on a schedule and after enough new ratings (one per deployment)",
    )
    worker.add_argument("--once", action="store_true", help="check once, train if due, exit")
    worker.add_argument(
        "--now", action="store_true", help="train once now whatever the triggers say (manual)"
    )
    worker.add_argument(
        "--cold",
        action="store_true",
        help="always a cold fit (no warm start)",
    )
    worker_sub = worker.add_subparsers(dest="worker_command")
    runs = worker_sub.add_parser("runs", help="the recorded training runs, newest first")
    runs.add_argument("--limit", type=int, default=20)

    evaluate = sub.add_parser("evaluate", help="print the evaluation table for a model")
    evaluate.add_argument("--model", help="artifact directory (default: the current model)")

    model = sub.add_parser("model", help="list model versions or roll back")
    model_sub = model.add_subparsers(dest="model_command", required=True)
    model_sub.add_parser("list", help="list versions; * marks the current one")
    model_sub.add_parser("rollback", help="make the previous version current again")
    experiment = model_sub.add_parser("experiment", help="A/B experiments between versions")
    exp_sub = experiment.add_subparsers(dest="experiment_command", required=True)
    start = exp_sub.add_parser("start", help="serve VERSION to a hashed share of readers")
    start.add_argument("version", metavar="VERSION")
    start.add_argument("--share", type=float, default=0.2, help="of readers (default 0.2)")
    exp_sub.add_parser("stop", help="end the experiment; everyone gets the current version")
    exp_sub.add_parser("promote", help="make the variant current (checked) and end it")
    exp_sub.add_parser("status", help="the latest experiment and its groups' comparison")

    report = sub.add_parser("report", help="reports on the running service")
    report_sub = report.add_subparsers(dest="report_command", required=True)
    online = report_sub.add_parser("online", help="online metrics of the served lists")
    online.add_argument("--since", help="ISO time or a span back: 30m, 24h, 7d (default 7d)")
    online.add_argument("--until", help="ISO time or a span back (default now)")
    online.add_argument("--bucket-minutes", type=int, default=60, help="for the chart")
    online.add_argument("--chart", metavar="PATH.png", help="write the open rate over time")

    prune = sub.add_parser("prune", help="delete old served lists, their items and opens")
    prune.add_argument(
        "--older-than",
        type=float,
        metavar="DAYS",
        help="default: BOOKREC_IMPRESSION_RETENTION_DAYS (180)",
    )
    prune.add_argument("--batch", type=int, default=2_000, help="lists per transaction")

    user = sub.add_parser("user", help="manage accounts")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    for name, what in (("grant-staff", "make NAME staff"), ("revoke-staff", "make NAME a reader")):
        user_sub.add_parser(name, help=what).add_argument("name", metavar="NAME")
    export = user_sub.add_parser(
        "export", help="NAME's data as JSON (profile, categories, ratings, feedback, lists)"
    )
    export.add_argument("name", metavar="NAME")
    export.add_argument("--output", metavar="PATH", help="write to PATH (default: stdout)")

    demo = sub.add_parser("demo", help="set up the demo and serve it (the main job)")
    server_options(demo)
    demo.add_argument("--retrain", action="store_true", help="train even if a model exists")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise SystemExit(f"bookrec: {exc}") from None
    configure_logging(settings.log_level)
    handlers = {
        "init-db": lambda: _init_db(settings),
        "import": lambda: _import(settings, args),
        "serve": lambda: _serve(settings, args.host, args.port, args.workers),
        "train": lambda: _train(settings, args.arch, args.epochs, args.seed, args.force),
        "worker": lambda: _worker(settings, args),
        "evaluate": lambda: _evaluate(settings, args),
        "model": lambda: _model(settings, args),
        "user": lambda: _user(settings, args),
        "report": lambda: _report(settings, args),
        "prune": lambda: _prune(settings, args),
        "demo": lambda: _demo(settings, args),
    }
    try:
        handlers[args.command]()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        # Expected failures (a broken import file, a refused artifact) carry clear messages.
        from artifact import ArtifactError
        from db.errors import database_unavailable, missing_table
        from db.importers import ImportFailed

        if isinstance(exc, ImportFailed | ArtifactError):
            raise SystemExit(f"bookrec: {exc}") from None
        if missing_table(exc):  # a database that was never migrated
            raise SystemExit(
                "bookrec: the database has no bookrec tables (not migrated): "
                "run bookrec init-db first"
            ) from None
        if database_unavailable(exc):
            first_line = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise SystemExit(f"bookrec: the database is unavailable: {first_line}") from None
        raise
