"""The `bookrec` command line."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from app.logs import configure_logging
from app.settings import ConfigError, Settings, load_settings
from app.tables import metrics_table
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


def _serve(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn

    if settings.graphiql_enabled:
        print(f"GraphiQL: http://{host}:{port}/graphql", flush=True)
    uvicorn.run(
        "app.main:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        log_config=None,
    )


def _train(
    settings: Settings,
    arch: str = "default",
    epochs: int | None = None,
    seed: int = 42,
    force: bool = False,
) -> None:
    # TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notes) says nothing useful here.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
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
        if args.model_command == "rollback":
            version = store.rollback(check=Recommender.load)
            print(f"current model is now {version}")
        else:
            current = store.current()
            for version in store.versions():
                print(("* " if version == current else "  ") + version)


def _user(settings: Settings, args: argparse.Namespace) -> None:
    from sqlmodel import Session

    from db import readers
    from db.engine import make_engine
    from db.errors import NotFound

    engine = make_engine(settings.database_url)
    try:
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

    evaluate = sub.add_parser("evaluate", help="print the evaluation table for a model")
    evaluate.add_argument("--model", help="artifact directory (default: the current model)")

    model = sub.add_parser("model", help="list model versions or roll back")
    model_sub = model.add_subparsers(dest="model_command", required=True)
    model_sub.add_parser("list", help="list versions; * marks the current one")
    model_sub.add_parser("rollback", help="make the previous version current again")

    user = sub.add_parser("user", help="manage accounts")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    for name, what in (("grant-staff", "make NAME staff"), ("revoke-staff", "make NAME a reader")):
        user_sub.add_parser(name, help=what).add_argument("name", metavar="NAME")

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
        "evaluate": lambda: _evaluate(settings, args),
        "model": lambda: _model(settings, args),
        "user": lambda: _user(settings, args),
        "demo": lambda: _demo(settings, args),
    }
    try:
        handlers[args.command]()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        # Expected failures (a broken import file, a refused artifact) carry clear messages.
        from artifact import ArtifactError
        from db.importers import ImportFailed

        if isinstance(exc, ImportFailed | ArtifactError):
            raise SystemExit(f"bookrec: {exc}") from None
        raise
