"""Notify as a process: settings, wiring and the command line (see platform_kit.service)."""
from __future__ import annotations

import threading
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field

from dziennik.identity.v1 import identity_pb2, identity_pb2_grpc
from platform_kit.auth import service_metadata
from platform_kit.bus.consumer import Consumer, Subscription
from platform_kit.config import DEFAULT_GRPC_PORTS, ServiceSettings, service_config
from platform_kit.grpc_server import Registration
from platform_kit.service import Runtime, ServiceDefinition
from services.notify.alerts import ABSENCE_RECORDED, GRADE_RECORDED, Dispatcher, StudentContacts, plan_absence_alerts, plan_grade_alerts
from services.notify.grpc_api import NotifyServicer
from services.notify.providers.fake import FakeSmsProvider


class NotifySettings(ServiceSettings):
    model_config = service_config("notify")
    grpc_port: int = DEFAULT_GRPC_PORTS["notify"]
    # smsapi and twilio adapters arrive with the notify issue
    sms_provider: Literal["fake"] = Field("fake", validation_alias="SMS_PROVIDER")
    # An absence alert waits this long after the latest absence, to list the day's other lessons.
    absence_delay_seconds: int = Field(1800, ge=0, le=6 * 3600)


class IdentityContacts:
    """Asks identity for a student's name and parents' phones."""

    def __init__(self, channel, service_token: str) -> None:
        self.stub = identity_pb2_grpc.IdentityServiceStub(channel)
        self.metadata = service_metadata(service_token)

    def __call__(self, student_id: str) -> StudentContacts:
        answer = self.stub.GetStudentContacts(identity_pb2.GetStudentContactsRequest(student_id=student_id), metadata=self.metadata)
        return StudentContacts(answer.first_name, answer.last_name, [(p.user_id, p.phone) for p in answer.parents])


@cache
def dispatcher(runtime: Runtime) -> Dispatcher:
    provider = FakeSmsProvider(runtime.settings.var_dir / "sms-outbox.jsonl")
    return Dispatcher(runtime.database, provider)


def consumers(runtime: Runtime) -> list[Consumer]:
    contacts = IdentityContacts(runtime.channel("identity"), runtime.settings.service_token)
    delay = timedelta(seconds=runtime.settings.absence_delay_seconds)
    return [
        Consumer(
            "notify.sms_alerts",
            runtime.database,
            runtime.settings.amqp_url,
            [
                Subscription(GRADE_RECORDED, lambda session, event: plan_grade_alerts(session, event, contacts)),
                Subscription(ABSENCE_RECORDED, lambda session, event: plan_absence_alerts(session, event, contacts, delay)),
            ],
            retry_delays_ms=tuple(runtime.settings.retry_delays_ms),
            after_commit=dispatcher(runtime).wake.set,
        )
    ]


def send_sms(runtime: Runtime, stop: threading.Event) -> None:
    dispatcher(runtime).run(stop)


DEFINITION = ServiceDefinition(
    name="notify",
    settings_class=NotifySettings,
    migrations=Path(__file__).parent / "migrations",
    grpc=lambda runtime: [Registration.of(NotifyServicer(runtime.database))],
    consumers=consumers,
    background=[send_sms],
)
