"""Billing as a process: it migrates its database and answers health; RPCs arrive with its issue."""
from __future__ import annotations

from pathlib import Path

from dziennik.billing.v1 import billing_pb2_grpc
from platform_kit.config import DEFAULT_GRPC_PORTS, ServiceSettings, service_config
from platform_kit.grpc_server import Registration
from platform_kit.service import Runtime, ServiceDefinition


class BillingSettings(ServiceSettings):
    model_config = service_config("billing")
    grpc_port: int = DEFAULT_GRPC_PORTS["billing"]


def grpc_services(runtime: Runtime) -> list[Registration]:
    servicer = billing_pb2_grpc.BillingServiceServicer()
    return [Registration(billing_pb2_grpc.add_BillingServiceServicer_to_server, servicer, "dziennik.billing.v1.BillingService")]


DEFINITION = ServiceDefinition(
    name="billing",
    settings_class=BillingSettings,
    migrations=Path(__file__).parent / "migrations",
    grpc=grpc_services,
)
