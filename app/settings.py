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
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_seconds: float = Field(default=60.0, gt=0)
    # How many times a mutation rolled back by a deadlock or a serialisation failure is
    # run in all (1: never again).
    mutation_attempts: int = Field(default=5, ge=1)
    log_level: str = "INFO"
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
