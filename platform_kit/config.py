"""Configuration from environment variables, checked once at start-up.

Each process declares its settings as a class of typed fields (`@settings` / `@service_settings`
make it a keyword-only dataclass); `setting(...)` gives a field its default, the variable that
sets it when that is not `<PREFIX><FIELD>`, its bounds (msgspec's `Meta`: ge, le, gt,
min_length, max_length, pattern) and a check of its own. `load_settings` reads every variable,
converts each value to the field's type with msgspec, and reports every problem at once in one
`ConfigError` that names each variable and says what is expected.

Not pydantic-settings: it kept ~10 MB of every process resident (issue #11's 80 MB per process;
docs/memory.md) for what this module does with msgspec (~1.5 MB).
"""
from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import msgspec

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

PORT = {"ge": 0, "le": 65535}


class ConfigError(Exception):
    """A configuration value is missing or malformed; the message is meant for an operator."""


def setting(default: Any, env: str | None = None, *, check: Callable[[Any], Any] | None = None, **bounds: Any) -> Any:
    """A settings field: its default, the variable that sets it (None: the class's prefix and the
    field's name in capitals), msgspec.Meta bounds, and `check(value)`, which returns the value
    to keep or raises ValueError saying what is expected. Defaults are taken as they are."""
    metadata = {"env": env, "check": check, "meta": msgspec.Meta(**bounds) if bounds else None}
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


S = TypeVar("S")


def settings(prefix: str = "") -> Callable[[type[S]], type[S]]:
    """Makes a settings class: its fields (not set otherwise) read `<prefix><FIELD>`."""

    def make(cls: type[S]) -> type[S]:
        cls.env_prefix = prefix  # type: ignore[attr-defined]
        return dataclasses.dataclass(kw_only=True, repr=False)(cls)

    return make


def service_settings(service: str) -> Callable[[type[S]], type[S]]:
    """A service's settings: `<SERVICE>_DATABASE_URL`, `<SERVICE>_GRPC_PORT`, …"""
    return settings(f"{service.upper()}_")


def _amqp_scheme(value: str) -> str:
    if not value.startswith(("amqp://", "amqps://")):
        raise ValueError("must be an amqp:// or amqps:// URL")
    return value


def _log_level(value: str) -> str:
    value = value.upper()
    if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
    return value


def _database_scheme(value: str | None) -> str | None:
    if value and not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
        raise ValueError("must be a sqlite:/// or postgresql:// URL")
    return value


@settings()
class CommonSettings:
    """Names shared by every process (see ARCHITECTURE.md)."""

    var_dir: Path = setting(Path("var"), "DZIENNIK_VAR_DIR")
    amqp_url: str = setting(DEFAULT_AMQP_URL, "AMQP_URL", check=_amqp_scheme)
    metrics_port: int | None = setting(None, "METRICS_PORT", **PORT)
    log_level: str = setting("INFO", "LOG_LEVEL", check=_log_level)
    # Services authenticate to each other with this shared secret (event consumers have no user).
    service_token: str = setting("dev-service-token", "DZIENNIK_SERVICE_TOKEN", min_length=16)
    grpc_deadline_seconds: float = setting(5.0, "DZIENNIK_GRPC_DEADLINE", gt=0, le=120)

    def check(self) -> None:
        """Rules across fields, once every field is valid: raise ValueError saying what is wrong."""

    def __repr__(self) -> str:  # settings may be logged: values that may hold a credential are not shown
        shown = (f"{name}={'***' if _secret(field.variable) else repr(getattr(self, name))}" for name, field in _fields(type(self)).items())
        return f"{type(self).__name__}({', '.join(shown)})"

    def grpc_target(self, service: str) -> str:
        """Where `service` answers gRPC: `<SERVICE>_GRPC_TARGET`, else localhost on its port."""
        return _grpc_targets().get(service) or f"127.0.0.1:{_grpc_port(service)}"


@settings()
class ServiceSettings(CommonSettings):
    """Settings of one service. A subclass names its service and sets its `grpc_port`:

        @service_settings("gradebook")
        class GradebookSettings(ServiceSettings):
            grpc_port: int = setting(DEFAULT_GRPC_PORTS["gradebook"], **PORT)
    """

    database_url: str | None = setting(None, check=_database_scheme)
    grpc_port: int = setting(0, **PORT)
    migrate_on_start: bool = True
    grpc_workers: int = setting(16, ge=1, le=512)
    stop_grace_seconds: float = setting(10.0, ge=0, le=300)
    # Delays of a failing event's retries (JSON list); after the last one it is dead-lettered.
    retry_delays_ms: list[int] = setting([1_000, 10_000, 60_000], max_length=10)


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Read `cls` from the environment (`overrides`, by field name, win over it); raise ConfigError
    naming each bad variable."""
    fields = _fields(cls)
    unknown = set(overrides) - set(fields)
    if unknown:
        raise TypeError(f"{cls.__name__} has no setting {', '.join(sorted(unknown))}")
    values, problems = {}, []
    for name, field in fields.items():
        if name in overrides:
            raw = overrides[name]
        elif field.variable in os.environ:
            raw = os.environ[field.variable]
        else:
            continue  # the default
        try:
            values[name] = field.read(raw)
        except ValueError as exc:  # msgspec.ValidationError is one
            problems.append(f"{field.variable}: {exc}{_shown(field.variable, raw)}")
    if not problems:
        loaded = cls(**values)
        try:
            loaded.check()  # type: ignore[attr-defined]
            return loaded
        except ValueError as exc:
            problems.append(str(exc))
    raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))


def variables(cls: type) -> set[str]:
    """Every environment variable `cls` reads."""
    return {field.variable for field in _fields(cls).values()}


@dataclasses.dataclass(frozen=True)
class _Field:
    variable: str
    kind: Any  # the type msgspec converts to, bounds included
    optional: bool
    list_: bool
    path: bool
    check: Callable[[Any], Any] | None

    def read(self, raw: Any) -> Any:
        if self.optional and raw in ("", None):
            return None
        if self.list_ and isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError:
                raise ValueError("cannot be parsed (a list is written as JSON, e.g. [1000, 5000])") from None
        value = msgspec.convert(str(raw) if self.path else raw, self.kind, strict=False)
        if self.path:
            value = Path(value)
        return self.check(value) if self.check else value


@cache
def _fields(cls: type) -> dict[str, _Field]:
    hints = typing.get_type_hints(cls)
    found = {}
    for field in dataclasses.fields(cls):
        kind, optional = _without_none(hints[field.name])
        meta = field.metadata.get("meta")
        path = kind is Path
        converted = str if path else kind  # msgspec has no Path: read a string, then make it one
        found[field.name] = _Field(
            variable=field.metadata.get("env") or f"{cls.env_prefix}{field.name}".upper(),  # type: ignore[attr-defined]
            kind=typing.Annotated[converted, meta] if meta else converted,
            optional=optional,
            list_=typing.get_origin(kind) is list,
            path=path,
            check=field.metadata.get("check"),
        )
    return found


def _without_none(hint: Any) -> tuple[Any, bool]:
    """`int | None` -> (int, True); bounds apply to the value, not to its absence."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint):
        rest = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return (rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]), True
    return hint, False


_SECRET_NAMES = ("TOKEN", "PASSWORD", "SECRET", "KEY", "URL")


def _secret(variable: str) -> bool:
    """The variable may hold a credential (a token, a password, a URL with a password in it)."""
    return any(part in variable for part in _SECRET_NAMES)


def _shown(name: str, value: object) -> str:
    """The rejected value for the message, unless it may hold a credential."""
    return "" if value is None or _secret(name) else f" (got {value!r})"


def _grpc_port(service: str) -> int:
    raw = os.environ.get(f"{service.upper()}_GRPC_PORT")
    if raw is None:
        return DEFAULT_GRPC_PORTS[service]
    if not raw.isdigit():
        raise ConfigError(f"{service.upper()}_GRPC_PORT: must be a port number (got {raw!r})")
    return int(raw)


def _grpc_targets() -> dict[str, str]:
    return {s: os.environ[f"{s.upper()}_GRPC_TARGET"] for s in DEFAULT_GRPC_PORTS if os.environ.get(f"{s.upper()}_GRPC_TARGET")}

