"""Gradebook as a process: settings, wiring and the command line (see platform_kit.service)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from platform_kit.config import DEFAULT_GRPC_PORTS, PORT, ServiceSettings, service_settings, setting
from platform_kit.service import Runtime, ServiceDefinition

if TYPE_CHECKING:
    from platform_kit.grpc_server import Registration


@service_settings("gradebook")
class GradebookSettings(ServiceSettings):
    grpc_port: int = setting(DEFAULT_GRPC_PORTS["gradebook"], **PORT)
    # How long identity's answers about a student or a teacher are kept (0: always ask);
    # they may grant this much longer after a change, never refuse (platform_kit/cache.py).
    people_cache_seconds: float = setting(10.0, ge=0, le=300)
    # ... and how long while the server follows identity's PeopleChanged events, which drop the
    # copies about whoever changed (0: do not follow).
    people_cache_followed_seconds: float = setting(600.0, ge=0, le=3600)


def grpc_services(runtime: Runtime) -> list[Registration]:
    # imported here: only `serve` loads the servicer and what it uses (memory of the relay)
    from platform_kit.bus.follower import follow_people_changes
    from platform_kit.grpc_server import Registration
    from services.gradebook.grpc_api import GradebookServicer, IdentityPeople
    from services.gradebook.use_cases import Gradebook

    settings: GradebookSettings = runtime.settings  # type: ignore[assignment]
    people = IdentityPeople(runtime.channel("identity"), settings.service_token)
    gradebook = Gradebook(
        runtime.database, people, people_cache_seconds=settings.people_cache_seconds, people_cache_followed_seconds=settings.people_cache_followed_seconds
    )
    follow_people_changes(settings.amqp_url, "gradebook", gradebook.people.caches)
    return [Registration.of(GradebookServicer(gradebook))]


DEFINITION = ServiceDefinition(
    name="gradebook",
    settings_class=GradebookSettings,
    migrations=Path(__file__).parent / "migrations",
    grpc=grpc_services,
)
