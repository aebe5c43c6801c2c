"""How a service process is put together and started.

A service module describes itself with a `ServiceDefinition`; `main()` gives it the command line
every service shares:

    python -m services.<name> migrate     # run its Alembic migrations to head
    python -m services.<name> serve       # gRPC server (runs `migrate` first unless <SERVICE>_MIGRATE_ON_START=false)
    python -m services.<name> relay       # outbox relay
    python -m services.<name> consume     # its event consumers

Each command imports what it needs when it runs, and so does each service's wiring: a relay never
loads the gRPC server, a server never keeps Alembic (docs/memory.md).
"""
from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from platform_kit.auth import TokenVerifier
from platform_kit.config import ConfigError, ServiceSettings, load_settings
from platform_kit.db import Database, database_url
from platform_kit.heap import freeze_startup_objects
from platform_kit.logs import configure_logging
from platform_kit.metrics import start_metrics_server

if TYPE_CHECKING:
    from platform_kit.bus.consumer import Consumer
    from platform_kit.grpc_server import Registration

log = logging.getLogger(__name__)


class Runtime:
    """What a running service holds: settings, its database, channels to other services and the
    token verifier. Built once per process; tests build one against their own database."""

    def __init__(self, name: str, settings: ServiceSettings, *, jwks_source: Callable[["Runtime"], str] | None = None) -> None:
        self.name = name
        self.settings = settings
        self.database = Database(database_url(name, settings.database_url, settings.var_dir))
        self._channels: dict[str, object] = {}
        self._jwks_source = jwks_source

    def channel(self, service: str):
        if service not in self._channels:
            # imported here: relays and migrations open no channels (grpcio, ~14 MB)
            from platform_kit.grpc_client import open_channel

            self._channels[service] = open_channel(
                self.settings.grpc_target(service), deadline_seconds=self.settings.grpc_deadline_seconds, service=service
            )
        return self._channels[service]

    @cached_property
    def verifier(self) -> TokenVerifier:
        source = self._jwks_source or _jwks_from_identity
        return TokenVerifier(lambda: source(self))

    def check_database(self) -> None:
        self.database.ping()


def _jwks_from_identity(runtime: Runtime) -> str:
    from dziennik.identity.v1 import identity_pb2, identity_pb2_grpc

    stub = identity_pb2_grpc.IdentityServiceStub(runtime.channel("identity"))
    return stub.GetJwks(identity_pb2.GetJwksRequest()).jwks_json


@dataclass
class ServiceDefinition:
    name: str
    settings_class: type[ServiceSettings]
    migrations: Path
    grpc: Callable[[Runtime], list[Registration]]
    consumers: Callable[[Runtime], list[Consumer]] = lambda runtime: []
    on_start: Callable[[Runtime], None] | None = None  # after migrations, before serving
    jwks_source: Callable[[Runtime], str] | None = None  # identity answers from its own keys
    background: list[Callable[[Runtime, threading.Event], None]] = field(default_factory=list)  # run beside consumers

    def runtime(self, **overrides) -> Runtime:
        return Runtime(self.name, load_settings(self.settings_class, **overrides), jwks_source=self.jwks_source)


def _stop_event() -> threading.Event:
    stop = threading.Event()

    def _handle(signum, _frame):
        log.info("received signal %s, stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _handle)
    signal.signal(signal.SIGINT, _handle)
    return stop


def _migrate_in_child_process(definition: ServiceDefinition) -> None:
    """`migrate` as a process of its own (same environment, same settings), so that Alembic and
    the migration scripts (~11 MB) are never resident in the long-running server."""
    returncode = subprocess.run([sys.executable, "-m", f"services.{definition.name}", "migrate"]).returncode
    if returncode != 0:
        raise SystemExit(f"{definition.name}: migrations failed (exit code {returncode})")


def serve(definition: ServiceDefinition, runtime: Runtime, stop: threading.Event) -> None:
    # imported here: only a server needs the gRPC server, health and reflection
    from platform_kit.grpc_server import ReadinessProbe, create_server

    settings = runtime.settings
    if settings.migrate_on_start:
        _migrate_in_child_process(definition)
    if definition.on_start is not None:
        definition.on_start(runtime)
    registrations = definition.grpc(runtime)
    server, port, health_servicer = create_server(
        f"[::]:{settings.grpc_port}",
        registrations,
        verifier=runtime.verifier,
        service_token=settings.service_token,
        max_workers=settings.grpc_workers,
    )
    freeze_startup_objects()
    server.start()
    log.info("%s answers gRPC on port %d", definition.name, port)
    # Ready when the database answers. Not the broker: a server writes events to its outbox, so it
    # keeps taking requests while RabbitMQ is away (the relay catches up afterwards).
    probe = ReadinessProbe(health_servicer, [r.full_name for r in registrations], [runtime.check_database])
    threading.Thread(target=probe.run, args=(stop,), daemon=True, name="readiness").start()
    stop.wait()
    # Tell load balancers first, then finish what is in flight.
    health_servicer.enter_graceful_shutdown()
    server.stop(settings.stop_grace_seconds).wait()
    log.info("%s stopped", definition.name)


def relay(definition: ServiceDefinition, runtime: Runtime, stop: threading.Event) -> None:
    # imported here: only a relay publishes (pika)
    from platform_kit.bus.amqp import Publisher
    from platform_kit.bus.relay import OutboxRelay

    outbox = OutboxRelay(runtime.database, Publisher(runtime.settings.amqp_url, app_id=definition.name))
    freeze_startup_objects()
    outbox.run(stop)


def consume(definition: ServiceDefinition, runtime: Runtime, stop: threading.Event) -> None:
    workers = [threading.Thread(target=c.run, args=(stop,), name=c.queue) for c in definition.consumers(runtime)]
    workers += [threading.Thread(target=task, args=(runtime, stop), name=task.__name__) for task in definition.background]
    if not workers:
        log.info("%s has no consumers", definition.name)
    freeze_startup_objects()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


COMMANDS = {"serve": serve, "relay": relay, "consume": consume}


def main(definition: ServiceDefinition, argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m services.{definition.name}")
    parser.add_argument("command", choices=["migrate", *COMMANDS])
    args = parser.parse_args(argv)
    try:
        runtime = definition.runtime()
    except ConfigError as exc:
        print(f"{definition.name}: {exc}", file=sys.stderr)
        return 2
    configure_logging(f"{definition.name}-{args.command}", runtime.settings.log_level)
    if args.command == "migrate":
        # imported here: only migrations need Alembic (memory of every other process)
        from platform_kit.migrations import upgrade

        upgrade(runtime.database, definition.migrations)
        log.info("%s database migrated", definition.name)
        return 0
    start_metrics_server(runtime.settings.metrics_port)
    COMMANDS[args.command](definition, runtime, _stop_event())
    return 0
