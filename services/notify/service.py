"""Notify as a process: settings, wiring and the command line (see platform_kit.service)."""
from __future__ import annotations

import logging
import threading
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from platform_kit.config import DEFAULT_GRPC_PORTS, PORT, ServiceSettings, service_settings, setting
from platform_kit.service import Runtime, ServiceDefinition

if TYPE_CHECKING:
    from platform_kit.bus.consumer import Consumer
    from platform_kit.grpc_server import Registration
    from services.notify.alerts import Dispatcher

log = logging.getLogger(__name__)


@service_settings("notify")
class NotifySettings(ServiceSettings):
    grpc_port: int = setting(DEFAULT_GRPC_PORTS["notify"], **PORT)
    sms_provider: Literal["fake", "smsapi", "twilio"] = setting("fake", "SMS_PROVIDER")
    public_url: str = setting("http://localhost:8080", "DZIENNIK_PUBLIC_URL", pattern=r"^https?://")
    # The secret in SMSAPI's callback URL (SMSAPI does not sign its delivery reports).
    callback_secret: str = setting("dev-sms-callback-secret", "SMS_CALLBACK_SECRET", min_length=12)
    smsapi_base_url: str = setting("https://api.smsapi.pl", "SMSAPI_BASE_URL", pattern=r"^https?://")
    smsapi_token: str = setting("", "SMSAPI_TOKEN")
    smsapi_sender: str = setting("Dziennik", "SMSAPI_SENDER", max_length=11)
    twilio_base_url: str = setting("https://api.twilio.com", "TWILIO_BASE_URL", pattern=r"^https?://")
    twilio_account_sid: str = setting("", "TWILIO_ACCOUNT_SID")
    twilio_auth_token: str = setting("", "TWILIO_AUTH_TOKEN")
    twilio_from: str = setting("", "TWILIO_FROM")
    # An absence alert waits this long after the latest absence, to list the day's other lessons.
    absence_delay_seconds: int = setting(1800, ge=0, le=6 * 3600)
    # The parent is reminded this many days before extended access ends; checked this often.
    reminder_days: int = setting(14, ge=1, le=400)
    reminder_interval_seconds: float = setting(600.0, gt=0, le=86400)
    # SMS handed to the provider at once: a provider answers in 100-300 ms, so each connection
    # carries 3-10 SMS a second (docs/capacity.md).
    send_concurrency: int = setting(8, ge=1, le=64)

    def check(self) -> None:
        if self.sms_provider == "smsapi" and not self.smsapi_token:
            raise ValueError("SMS_PROVIDER=smsapi needs SMSAPI_TOKEN")
        if self.sms_provider == "twilio" and not (self.twilio_account_sid and self.twilio_auth_token and self.twilio_from):
            raise ValueError("SMS_PROVIDER=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM")


def provider_for(settings: NotifySettings):
    """The SMS provider SMS_PROVIDER names, with a kept connection for each SMS sent at once."""
    # imported here, like the rest of the wiring: a relay loads none of it (memory, docs/memory.md)
    from services.notify.providers.fake import FakeSmsProvider
    from services.notify.providers.smsapi import SmsApiProvider
    from services.notify.providers.twilio import TwilioProvider

    callback = f"{settings.public_url.rstrip('/')}/api/v1/notify/sms/delivery-report"
    if settings.sms_provider == "smsapi":
        return SmsApiProvider(
            settings.smsapi_base_url, settings.smsapi_token, settings.smsapi_sender, f"{callback}/smsapi?key={settings.callback_secret}",
            connections=settings.send_concurrency,
        )
    if settings.sms_provider == "twilio":
        return TwilioProvider(
            settings.twilio_base_url, settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_from, f"{callback}/twilio",
            connections=settings.send_concurrency,
        )
    return FakeSmsProvider(settings.var_dir / "sms-outbox.jsonl")


@cache
def dispatcher(runtime: Runtime) -> Dispatcher:
    from services.notify.alerts import Dispatcher

    concurrency = runtime.settings.send_concurrency
    return Dispatcher(runtime.database, provider_for(runtime.settings), batch_size=max(20, 2 * concurrency), concurrency=concurrency)


def consumers(runtime: Runtime) -> list[Consumer]:
    from platform_kit.bus.consumer import Consumer, Subscription
    from services.notify.alerts import (
        ABSENCE_RECORDED, ACCESS_EXTENDED, ANNOUNCEMENT_PUBLISHED, EXCUSE_DECIDED, GRADE_CHANGED, GRADE_RECORDED, MESSAGE_SENT, TERM_GRADE_SET,
        excuse_decided_alert, grade_changed_alert, grade_recorded_alert, on_access_extended, plan_absence_alerts, plan_announcement_alerts,
        plan_message_alert, plan_student_alerts, term_grade_alert,
    )
    from services.notify.contacts import IdentityContacts

    contacts = IdentityContacts(runtime.channel("identity"), runtime.settings.service_token)
    delay = timedelta(seconds=runtime.settings.absence_delay_seconds)

    def about_students(event_type, alert_of) -> Subscription:
        """Alerts about a student: the events that arrive together are planned together."""
        return Subscription(
            event_type,
            lambda session, event: plan_student_alerts(session, [event], alert_of, contacts.of_school),
            handle_many=lambda session, events: plan_student_alerts(session, events, alert_of, contacts.of_school),
        )

    return [
        Consumer(
            "notify.sms_alerts",
            runtime.database,
            runtime.settings.amqp_url,
            [
                about_students(GRADE_RECORDED, grade_recorded_alert),
                Subscription(ABSENCE_RECORDED, lambda session, event: plan_absence_alerts(session, event, contacts, delay)),
                about_students(GRADE_CHANGED, grade_changed_alert),
                about_students(TERM_GRADE_SET, term_grade_alert),
                about_students(EXCUSE_DECIDED, excuse_decided_alert),
                Subscription(ACCESS_EXTENDED, lambda session, event: on_access_extended(session, event, contacts, runtime.settings.reminder_days)),
                Subscription(MESSAGE_SENT, lambda session, event: plan_message_alert(session, event, contacts.sms_allowed)),
                Subscription(ANNOUNCEMENT_PUBLISHED, lambda session, event: plan_announcement_alerts(session, event, contacts.roster)),
            ],
            retry_delays_ms=tuple(runtime.settings.retry_delays_ms),
            # A term's end brings thousands of grades a minute: up to 100 are planned together
            # (one transaction, one question to identity per school) instead of 20.
            prefetch=100,
            after_commit=dispatcher(runtime).wake.set,
        )
    ]


def send_sms(runtime: Runtime, stop: threading.Event) -> None:
    dispatcher(runtime).run(stop)


def send_reminders(runtime: Runtime, stop: threading.Event) -> None:
    """The reminder job: its state is in the database, so a restart loses nothing and repeats nothing."""
    from platform_kit.clock import school_today
    from services.notify.alerts import queue_due_reminders
    from services.notify.contacts import IdentityContacts

    contacts = IdentityContacts(runtime.channel("identity"), runtime.settings.service_token)
    while not stop.is_set():
        try:
            if queue_due_reminders(runtime.database, contacts, school_today()):
                dispatcher(runtime).wake.set()
        except Exception as exc:  # identity or the database away: the next round tries again
            log.warning("reminders could not be queued: %s", exc)
        stop.wait(runtime.settings.reminder_interval_seconds)


def grpc_services(runtime: Runtime) -> list[Registration]:
    from platform_kit.grpc_server import Registration
    from services.notify.grpc_api import NotifyServicer

    settings = runtime.settings
    return [Registration.of(NotifyServicer(runtime.database, callback_secret=settings.callback_secret, twilio_auth_token=settings.twilio_auth_token))]


DEFINITION = ServiceDefinition(
    name="notify",
    settings_class=NotifySettings,
    migrations=Path(__file__).parent / "migrations",
    grpc=grpc_services,
    consumers=consumers,
    background=[send_sms, send_reminders],
)
