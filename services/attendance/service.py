"""Attendance as a process: settings, wiring and the command line (see platform_kit.service)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from platform_kit.config import DEFAULT_GRPC_PORTS, PORT, ServiceSettings, service_settings, setting
from platform_kit.service import Runtime, ServiceDefinition

if TYPE_CHECKING:
    from platform_kit.grpc_server import Registration


@service_settings("attendance")
class AttendanceSettings(ServiceSettings):
    grpc_port: int = setting(DEFAULT_GRPC_PORTS["attendance"], **PORT)


def grpc_services(runtime: Runtime) -> list[Registration]:
    # imported here: only `serve` loads the servicer and what it uses (memory of the relay)
    from platform_kit.grpc_server import Registration
    from services.attendance.grpc_api import AttendanceServicer, Services
    from services.attendance.meeting import MeetingReports
    from services.attendance.use_cases import Attendance

    services = Services(runtime.channel("identity"), runtime.channel("gradebook"), runtime.settings.service_token)
    attendance = Attendance(runtime.database, services)
    return [Registration.of(AttendanceServicer(attendance, MeetingReports(attendance, services.grades_of)))]


DEFINITION = ServiceDefinition(
    name="attendance",
    settings_class=AttendanceSettings,
    migrations=Path(__file__).parent / "migrations",
    grpc=grpc_services,
)
