"""Messaging as a process: it migrates its database and answers health; RPCs arrive with its issue."""
from __future__ import annotations

from pathlib import Path

from dziennik.messaging.v1 import messaging_pb2_grpc
from platform_kit.config import DEFAULT_GRPC_PORTS, ServiceSettings, service_config
from platform_kit.grpc_server import Registration
from platform_kit.service import ServiceDefinition


class MessagingSettings(ServiceSettings):
    model_config = service_config("messaging")
    grpc_port: int = DEFAULT_GRPC_PORTS["messaging"]


DEFINITION = ServiceDefinition(
    name="messaging",
    settings_class=MessagingSettings,
    migrations=Path(__file__).parent / "migrations",
    grpc=lambda runtime: [Registration.of(messaging_pb2_grpc.MessagingServiceServicer())],
)
