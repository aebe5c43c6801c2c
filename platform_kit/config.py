"""Configuration from environment variables, checked once at start-up.

Each process declares a pydantic-settings class; `load_settings` turns a missing or malformed
variable into one `ConfigError` that names the variable and says what is expected.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

DEFAULT_AMQP_URL = "amqp://guest:guest@localhost:5672/%2F"

# Default gRPC ports on one machine; `<SERVICE>_GRPC_PORT` overrides each.
DEFAULT_GRPC_PORTS = {
    "identity": 50051,
    "gradebook": 50052,
    "attendance": 50053,
    "messaging": 50054,
    "billing": 50055,
    "notify": 50056,
}


class ConfigError(Exception):
    """A configuration value is missing or malformed; the message is meant for an operator."""


class CommonSettings(BaseSettings):
    """Names shared by every process (see ARCHITECTURE.md)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    var_dir: Path = Field(Path("var"), validation_alias="DZIENNIK_VAR_DIR")
    amqp_url: str = Field(DEFAULT_AMQP_URL, validation_alias="AMQP_URL")
    metrics_port: int | None = Field(None, ge=0, le=65535, validation_alias="METRICS_PORT")
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")
    # Services authenticate to each other with this shared secret (event consumers have no user).
    service_token: str = Field("dev-service-token", min_length=16, validation_alias="DZIENNIK_SERVICE_TOKEN")
    grpc_deadline_seconds: float = Field(5.0, gt=0, le=120, validation_alias="DZIENNIK_GRPC_DEADLINE")

    @field_validator("amqp_url")
    @classmethod
    def _amqp_scheme(cls, value: str) -> str:
        if not value.startswith(("amqp://", "amqps://")):
            raise ValueError("must be an amqp:// or amqps:// URL")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return value

    def grpc_target(self, service: str) -> str:
        """Where `service` answers gRPC: `<SERVICE>_GRPC_TARGET`, else localhost on its port."""
        return _grpc_targets().get(service) or f"127.0.0.1:{_grpc_port(service)}"


class ServiceSettings(CommonSettings):
    """Settings of one service. A subclass sets `env_prefix` to `<SERVICE>_` and its `grpc_port`:

        class GradebookSettings(ServiceSettings):
            model_config = service_config("gradebook")
            grpc_port: int = DEFAULT_GRPC_PORTS["gradebook"]
    """

    database_url: str | None = None
    grpc_port: int = Field(0, ge=0, le=65535)
    migrate_on_start: bool = True
    grpc_workers: int = Field(16, ge=1, le=512)
    stop_grace_seconds: float = Field(10.0, ge=0, le=300)
    # Delays of a failing event's retries (JSON list); after the last one it is dead-lettered.
    retry_delays_ms: list[int] = Field([1_000, 10_000, 60_000], max_length=10)

    @field_validator("grpc_port")
    @classmethod
    def _port_range(cls, value: int) -> int:  # subclasses redeclare the field with their default
        if not 0 <= value <= 65535:
            raise ValueError("must be a port number from 0 to 65535")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value


def service_config(service: str) -> SettingsConfigDict:
    """Settings config reading `<SERVICE>_DATABASE_URL`, `<SERVICE>_GRPC_PORT`, …"""
    return SettingsConfigDict(env_prefix=f"{service.upper()}_", extra="ignore", populate_by_name=True)


S = TypeVar("S", bound=BaseSettings)


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Read `cls` from the environment; raise ConfigError naming each bad variable."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            name = env_name(cls, field)
            problems.append(f"{name}: {error['msg']}{_shown(name, error.get('input'))}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems)) from None
    except SettingsError as exc:  # a value that is not even parseable, e.g. a broken JSON list
        match = re.search(r'field "(\w+)"', str(exc))
        name = env_name(cls, match.group(1)) if match else "?"
        raise ConfigError(f"invalid configuration:\n  {name}: cannot be parsed (a list is written as JSON, e.g. [1000, 5000])") from None


_SECRET_NAMES = ("TOKEN", "PASSWORD", "SECRET", "KEY", "URL")


def _shown(name: str, value: object) -> str:
    """The rejected value for the message, unless it may hold a credential."""
    if value is None or isinstance(value, dict) or any(part in name for part in _SECRET_NAMES):
        return ""
    return f" (got {value!r})"


def env_name(cls: type[BaseSettings], field: str) -> str:
    """The environment variable that sets `field` of `cls`."""
    info = cls.model_fields.get(field)
    if info is None:  # pydantic reports aliased fields by their alias already
        return field
    alias = info.validation_alias
    if isinstance(alias, str):
        return alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"{cls.model_config.get('env_prefix', '')}{field}".upper()


def _grpc_port(service: str) -> int:
    import os

    raw = os.environ.get(f"{service.upper()}_GRPC_PORT")
    if raw is None:
        return DEFAULT_GRPC_PORTS[service]
    if not raw.isdigit():
        raise ConfigError(f"{service.upper()}_GRPC_PORT: must be a port number (got {raw!r})")
    return int(raw)


def _grpc_targets() -> dict[str, str]:
    import os

    return {s: os.environ[f"{s.upper()}_GRPC_TARGET"] for s in DEFAULT_GRPC_PORTS if os.environ.get(f"{s.upper()}_GRPC_TARGET")}
