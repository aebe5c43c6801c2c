"""Notify's gRPC entrypoint: a person's notification settings."""
from __future__ import annotations

import re

from dziennik.notify.v1 import notify_pb2 as pb
from dziennik.notify.v1 import notify_pb2_grpc
from platform_kit.auth import current_principal
from platform_kit.clock import utcnow
from platform_kit.db import Database
from platform_kit.errors import InvalidArgument
from services.notify import rules
from services.notify.alerts import settings_of
from services.notify.orm import Preference

_E164 = re.compile(r"^\+[1-9]\d{7,14}$")


def _message(settings: rules.Settings) -> pb.Settings:
    return pb.Settings(sms_enabled=settings.sms_enabled, phone=settings.phone, events=list(settings.events), quiet_from=settings.quiet_from or "", quiet_to=settings.quiet_to or "")


class NotifyServicer(notify_pb2_grpc.NotifyServiceServicer):
    def __init__(self, database: Database) -> None:
        self.database = database

    def GetSettings(self, request, context):
        with self.database.transaction() as session:
            return _message(settings_of(session, current_principal().user_id))

    def UpdateSettings(self, request, context):
        caller = current_principal()
        phone = re.sub(r"[\s()-]", "", request.phone)
        if phone and re.fullmatch(r"\d{9}", phone):
            phone = "+48" + phone  # a Polish mobile number as people write it
        if phone and not _E164.match(phone):
            raise InvalidArgument("niepoprawny numer", field_errors={"phone": "Numer w formacie +48600100200."})
        settings = rules.check_settings(
            rules.Settings(request.sms_enabled, phone, tuple(dict.fromkeys(request.events)), request.quiet_from or None, request.quiet_to or None)
        )
        with self.database.transaction() as session:
            row = session.get(Preference, caller.user_id) or Preference(user_id=caller.user_id)
            row.sms_enabled, row.phone, row.events = settings.sms_enabled, settings.phone, list(settings.events)
            row.quiet_from, row.quiet_to, row.updated_at = settings.quiet_from, settings.quiet_to, utcnow()
            session.add(row)
        return _message(settings)
