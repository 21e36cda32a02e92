"""The one configuration object, read from BOOKREC_* environment variables at start."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEV_KEY_FILE = Path(".bookrec-dev-key")


class ConfigError(RuntimeError):
    """The configuration is unsafe or inconsistent; the process must not start."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BOOKREC_", extra="ignore", frozen=True)

    env: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./bookrec.db"
    model_dir: Path = Path("./models")
    # Where model versions live: "directory" (BOOKREC_MODEL_DIR, one machine) or "database"
    # (blobs in BOOKREC_DATABASE_URL's database, which every host follows; recommended with
    # PostgreSQL). With "database", each host loads versions from its own local cache.
    model_store: Literal["directory", "database"] = "directory"
    model_cache_dir: Path = Path("./model-cache")
    secret_key: SecretStr | None = None
    token_ttl_seconds: int = Field(default=7 * 24 * 3600, gt=0)
    # None: on outside production. Production turns both off unless set explicitly.
    graphiql: bool | None = None
    introspection: bool | None = None
    max_query_depth: int = Field(default=10, ge=2)
    max_query_tokens: int = Field(default=2000, ge=50)
    max_aliases: int = Field(default=30, ge=1)
    max_body_bytes: int = Field(default=100_000, ge=1_000)
    model_poll_seconds: float = Field(default=5.0, gt=0)
    onnx_threads: int = Field(default=1, ge=0)  # per scoring call; requests run in parallel
    popularity_ttl_seconds: float = Field(default=30.0, gt=0)
    list_flush_seconds: float = Field(default=0.5, gt=0)  # served lists are written this often
    # Served lists (impressions) are recorded; false only to measure what recording costs
    # (lists then cannot be continued with `after`, nor opens reported with `openBook`).
    record_lists: bool = True
    # At most this many positions wait in a process's write buffer; past it lists are
    # dropped (and counted) rather than memory growing while the database is away.
    list_buffer_positions: int = Field(default=200_000, ge=100)
    # `bookrec prune` deletes lists (and their items and opens) older than this.
    impression_retention_days: float = Field(default=180.0, gt=0)
    # A rating, like or dislike within this long after a list showed the book to the
    # reader is attributed to that list (the latest one that showed it).
    attribution_days: float = Field(default=7.0, gt=0)
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_seconds: float = Field(default=60.0, gt=0)
    # How many times a mutation rolled back by a deadlock or a serialisation failure is
    # run in all (1: never again).
    mutation_attempts: int = Field(default=5, ge=1)
    log_level: str = "INFO"
    # `bookrec worker`: retrain every N hours (0: never on a schedule) and once N ratings
    # arrived since the current model (0: never on new ratings); how often it checks; how
    # long its database lease lasts unrenewed (a crashed worker's lease expires after it).
    retrain_every_hours: float = Field(default=24.0, ge=0)
    retrain_after_ratings: int = Field(default=1000, ge=0)
    worker_poll_seconds: float = Field(default=60.0, gt=0)
    worker_lease_seconds: float = Field(default=120.0, ge=3)
    retrain_arch: str = "default"
    retrain_epochs: int | None = Field(default=None, ge=1)  # None: as `bookrec train` does
    # Incremental retraining warm-starts from the current model unless more than this share
    # of readers, books or ratings changed since it (then a cold fit).
    warm_max_change: float = Field(default=0.2, ge=0, le=1)
    # Prometheus /metrics: "off", "on" (open), or a bearer token scrapers must send.
    # Production refuses "on" unless BOOKREC_METRICS_ALLOW_OPEN=true.
    metrics: SecretStr = SecretStr("off")
    metrics_allow_open: bool = False
    # The reader app (/) and the staff dashboard (/staff), served from app/static/.
    web_pages: bool = True
    # Browser origins allowed to call the API from another origin (CORS), e.g.
    # "https://shop.example,https://app.example". Empty: no cross-origin access.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    cors_max_age_seconds: int = Field(default=600, ge=0)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins_are_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
                raise ValueError(
                    f"{origin!r} is not an origin (scheme://host[:port], no path), nor '*'"
                )
        return origins

    @model_validator(mode="after")
    def _production_is_locked_down(self) -> Settings:
        if self.env == "production" and self.secret_key is None:
            raise ConfigError(
                "BOOKREC_SECRET_KEY must be set when BOOKREC_ENV=production "
                "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if self.env == "production" and "*" in self.cors_origins:
            raise ConfigError(
                "BOOKREC_CORS_ORIGINS='*' lets every web page call the API from a reader's "
                "browser; production needs the list of your frontends' origins"
            )
        if self.env == "production" and self.metrics_mode == "on" and not self.metrics_allow_open:
            raise ConfigError(
                "BOOKREC_METRICS=on exposes /metrics to anyone in production: set it to a "
                "bearer token scrapers send (at least 16 characters), to off, or set "
                "BOOKREC_METRICS_ALLOW_OPEN=true if a firewall already guards the port"
            )
        token = self.metrics.get_secret_value()
        if self.metrics_mode == "token" and len(token) < 16:
            raise ConfigError(
                "BOOKREC_METRICS must be off, on, or a bearer token of at least 16 characters"
            )
        if self.secret_key is not None and len(self.secret_key.get_secret_value()) < 32:
            raise ConfigError("BOOKREC_SECRET_KEY must be at least 32 characters long")
        return self

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else self.env != "production"

    @property
    def introspection_enabled(self) -> bool:
        return self.introspection if self.introspection is not None else self.env != "production"

    @property
    def metrics_mode(self) -> Literal["off", "on", "token"]:
        value = self.metrics.get_secret_value().strip()
        if value.lower() in ("off", "", "false", "0"):
            return "off"
        if value.lower() in ("on", "true", "1"):
            return "on"
        return "token"

    @property
    def metrics_token(self) -> str | None:
        """The bearer token /metrics requires (None: open or off)."""
        return self.metrics.get_secret_value().strip() if self.metrics_mode == "token" else None

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def signing_key(self) -> str:
        """The token signing key. Outside production a key is generated once and kept in
        a local file, so that every worker process and restart shares it."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        return _dev_key(DEV_KEY_FILE)


def _dev_key(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    # Written whole to a private file, then linked into place: link() fails if the name
    # exists, so of two processes racing here one wins and both read a complete key.
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48))
    try:
        os.link(temp, path)
    except FileExistsError:
        pass
    finally:
        temp.unlink()
    return path.read_text().strip()


def load_settings() -> Settings:
    try:
        return Settings()
    except ConfigError:
        raise
    except ValueError as exc:  # pydantic's ValidationError: show which variable is wrong
        raise ConfigError(f"invalid configuration: {exc}") from exc
