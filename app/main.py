"""ASGI entry point for uvicorn workers: each process reads the settings itself."""

from __future__ import annotations

from starlette.applications import Starlette

from app.logs import configure_logging
from app.settings import load_settings


def create_app_from_env() -> Starlette:
    from app.asgi import create_app

    settings = load_settings()
    configure_logging(settings.log_level)
    return create_app(settings, serving=True)
