"""Messaging as a process: settings, wiring and the command line (see platform_kit.service)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from platform_kit.config import DEFAULT_GRPC_PORTS, PORT, ServiceSettings, service_settings, setting
from platform_kit.service import Runtime, ServiceDefinition

if TYPE_CHECKING:
    from platform_kit.grpc_server import Registration


@service_settings("messaging")
class MessagingSettings(ServiceSettings):
    grpc_port: int = setting(DEFAULT_GRPC_PORTS["messaging"], **PORT)
    # Where attachments are kept (default: <DZIENNIK_VAR_DIR>/attachments).
    attachments_dir: Path | None = None


def grpc_services(runtime: Runtime) -> list[Registration]:
    # imported here: only `serve` loads the servicer and what it uses (memory of the relay)
    from platform_kit.grpc_server import Registration
    from services.messaging.grpc_api import MessagingServicer, SchoolDirectories
    from services.messaging.use_cases import Messaging

    settings: MessagingSettings = runtime.settings  # type: ignore[assignment]
    directories = SchoolDirectories(runtime.channel("identity"), runtime.channel("gradebook"), settings.service_token)
    messaging = Messaging(runtime.database, directories, settings.attachments_dir or settings.var_dir / "attachments")
    return [Registration.of(MessagingServicer(messaging))]


DEFINITION = ServiceDefinition(
    name="messaging",
    settings_class=MessagingSettings,
    migrations=Path(__file__).parent / "migrations",
    grpc=grpc_services,
)
