"""Billing as a process: it migrates its database and answers health; RPCs arrive with its issue."""
from __future__ import annotations

from pathlib import Path

from dziennik.billing.v1 import billing_pb2_grpc
from platform_kit.config import DEFAULT_GRPC_PORTS, ServiceSettings, service_config
from platform_kit.grpc_server import Registration
from platform_kit.service import ServiceDefinition


class BillingSettings(ServiceSettings):
    model_config = service_config("billing")
    grpc_port: int = DEFAULT_GRPC_PORTS["billing"]


DEFINITION = ServiceDefinition(
    name="billing",
    settings_class=BillingSettings,
    migrations=Path(__file__).parent / "migrations",
    grpc=lambda runtime: [Registration.of(billing_pb2_grpc.BillingServiceServicer())],
)
