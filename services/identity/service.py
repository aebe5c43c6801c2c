"""Identity as a process: settings, wiring and the command line (see platform_kit.service)."""
from __future__ import annotations

from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from platform_kit.config import DEFAULT_GRPC_PORTS, PORT, ServiceSettings, service_settings, setting
from platform_kit.service import Runtime, ServiceDefinition

if TYPE_CHECKING:
    from platform_kit.bus.consumer import Consumer
    from platform_kit.grpc_server import Registration
    from services.identity.sessions import Sessions


@service_settings("identity")
class IdentitySettings(ServiceSettings):
    grpc_port: int = setting(DEFAULT_GRPC_PORTS["identity"], **PORT)
    access_token_ttl_seconds: int = setting(900, ge=60, le=3600)
    refresh_token_ttl_days: int = setting(30, ge=1, le=365)
    admin_login: str | None = setting(None, "DZIENNIK_ADMIN_LOGIN", pattern=r"^[a-z0-9._-]{3,64}$")
    admin_password: str | None = setting(None, "DZIENNIK_ADMIN_PASSWORD", min_length=8, max_length=64)
    # The alarm for an account changing more than this many grades within the window (takeovers).
    audit_bulk_threshold: int = setting(200, ge=1)
    audit_bulk_window_seconds: int = setting(600, ge=10, le=86400)
    # argon2id hashes and checks running at once (each 19 MiB, one core): the cores the pod may
    # use. Unset: the CPUs this process may run on (a container's CPU limit is not among them).
    password_checks_at_once: int | None = setting(None, ge=1, le=256)
    # Sign-ins from one client address per 10 minutes, successful or not (429 past it); a school
    # behind one NAT signs in together at 8:00.
    sign_ins_per_address: int = setting(1000, ge=1, le=1_000_000)


@cache
def sessions(runtime: Runtime) -> Sessions:
    # imported here: argon2, PyJWT and cryptography only in the server (memory of relay and consumer)
    from services.identity.credentials import limit_password_work
    from services.identity.sessions import Sessions

    settings: IdentitySettings = runtime.settings  # type: ignore[assignment]
    if settings.password_checks_at_once:
        limit_password_work(settings.password_checks_at_once)
    return Sessions(
        runtime.database,
        access_ttl=timedelta(seconds=settings.access_token_ttl_seconds),
        refresh_ttl=timedelta(days=settings.refresh_token_ttl_days),
        sign_ins_per_address=settings.sign_ins_per_address,
    )


def on_start(runtime: Runtime) -> None:
    settings: IdentitySettings = runtime.settings  # type: ignore[assignment]
    sessions(runtime).ensure_signing_key()
    if settings.admin_login and settings.admin_password:
        sessions(runtime).ensure_superadmin(settings.admin_login, settings.admin_password)


def grpc_services(runtime: Runtime) -> list[Registration]:
    # imported here: only `serve` loads the servicer and what it uses (memory of relay and consumer)
    from platform_kit.grpc_server import Registration
    from services.identity.administration import SchoolAdministration
    from services.identity.audit import AuditTrail, BulkRule
    from services.identity.directory import Directory
    from services.identity.grpc_api import IdentityServicer
    from services.identity.throttle import RequestLimiter

    settings: IdentitySettings = runtime.settings  # type: ignore[assignment]
    audit = AuditTrail(runtime.database, BulkRule(settings.audit_bulk_threshold, timedelta(seconds=settings.audit_bulk_window_seconds)))
    servicer = IdentityServicer(sessions(runtime), SchoolAdministration(runtime.database), Directory(runtime.database), audit, RequestLimiter(runtime.database))
    return [Registration.of(servicer)]


def consumers(runtime: Runtime) -> list[Consumer]:
    # imported here: only `consume` loads the consumer and its handlers (memory of server and relay)
    from platform_kit.bus.consumer import Consumer, Subscription
    from services.identity.directory import PAYMENT_REFUNDED, PAYMENT_SETTLED, Directory, on_payment_refunded

    directory = Directory(runtime.database)
    return [
        Consumer(
            "identity.entitlements",
            runtime.database,
            runtime.settings.amqp_url,
            [Subscription(PAYMENT_SETTLED, directory.on_payment_settled), Subscription(PAYMENT_REFUNDED, on_payment_refunded)],
            retry_delays_ms=tuple(runtime.settings.retry_delays_ms),
        )
    ]


DEFINITION = ServiceDefinition(
    name="identity",
    settings_class=IdentitySettings,
    migrations=Path(__file__).parent / "migrations",
    grpc=grpc_services,
    consumers=consumers,
    on_start=on_start,
    # identity verifies tokens with its own keys instead of asking itself over gRPC
    jwks_source=lambda runtime: sessions(runtime).jwks_json(),
)
