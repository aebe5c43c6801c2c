"""Identity as a process: settings, wiring and the command line (see platform_kit.service)."""
from __future__ import annotations

from datetime import timedelta
from functools import cache
from pathlib import Path

from pydantic import Field

from platform_kit.config import DEFAULT_GRPC_PORTS, ServiceSettings, service_config
from platform_kit.grpc_server import Registration
from platform_kit.service import Runtime, ServiceDefinition
from services.identity.grpc_api import IdentityServicer
from services.identity.use_cases import Identity


class IdentitySettings(ServiceSettings):
    model_config = service_config("identity")
    grpc_port: int = DEFAULT_GRPC_PORTS["identity"]
    access_token_ttl_seconds: int = Field(900, ge=60, le=3600)
    refresh_token_ttl_days: int = Field(30, ge=1, le=365)
    admin_login: str | None = Field(None, validation_alias="DZIENNIK_ADMIN_LOGIN", pattern=r"^[a-z0-9._-]{3,64}$")
    admin_password: str | None = Field(None, validation_alias="DZIENNIK_ADMIN_PASSWORD", min_length=8, max_length=64)


@cache
def identity(runtime: Runtime) -> Identity:
    settings: IdentitySettings = runtime.settings  # type: ignore[assignment]
    return Identity(
        runtime.database,
        access_ttl=timedelta(seconds=settings.access_token_ttl_seconds),
        refresh_ttl=timedelta(days=settings.refresh_token_ttl_days),
    )


def on_start(runtime: Runtime) -> None:
    settings: IdentitySettings = runtime.settings  # type: ignore[assignment]
    identity(runtime).ensure_signing_key()
    if settings.admin_login and settings.admin_password:
        identity(runtime).ensure_superadmin(settings.admin_login, settings.admin_password)


def grpc_services(runtime: Runtime) -> list[Registration]:
    return [Registration.of(IdentityServicer(identity(runtime)))]


DEFINITION = ServiceDefinition(
    name="identity",
    settings_class=IdentitySettings,
    migrations=Path(__file__).parent / "migrations",
    grpc=grpc_services,
    on_start=on_start,
    # identity verifies tokens with its own keys instead of asking itself over gRPC
    jwks_source=lambda runtime: identity(runtime).jwks_json(),
)
