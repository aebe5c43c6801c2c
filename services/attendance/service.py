"""Attendance as a process: it migrates its database and answers health; RPCs arrive with its issue."""
from __future__ import annotations

from pathlib import Path

from dziennik.attendance.v1 import attendance_pb2_grpc
from platform_kit.config import DEFAULT_GRPC_PORTS, ServiceSettings, service_config
from platform_kit.grpc_server import Registration
from platform_kit.service import ServiceDefinition


class AttendanceSettings(ServiceSettings):
    model_config = service_config("attendance")
    grpc_port: int = DEFAULT_GRPC_PORTS["attendance"]


DEFINITION = ServiceDefinition(
    name="attendance",
    settings_class=AttendanceSettings,
    migrations=Path(__file__).parent / "migrations",
    grpc=lambda runtime: [Registration.of(attendance_pb2_grpc.AttendanceServiceServicer())],
)
