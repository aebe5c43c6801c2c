"""Notify's gRPC entrypoint: a person's notification settings."""
from __future__ import annotations

import hmac
import re

from dziennik.notify.v1 import notify_pb2 as pb
from dziennik.notify.v1 import notify_pb2_grpc
from platform_kit.auth import current_principal
from platform_kit.clock import utcnow
from platform_kit.db import Database
from platform_kit.errors import InvalidArgument, NotFound, Unauthenticated
from services.notify import rules
from services.notify.alerts import record_delivery_report, settings_of
from services.notify.providers.twilio import verify_twilio_signature
from services.notify.orm import Preference

_E164 = re.compile(r"^\+[1-9]\d{7,14}$")


def _message(settings: rules.Settings) -> pb.Settings:
    return pb.Settings(sms_enabled=settings.sms_enabled, phone=settings.phone, events=list(settings.events), quiet_from=settings.quiet_from or "", quiet_to=settings.quiet_to or "")


class NotifyServicer(notify_pb2_grpc.NotifyServiceServicer):
    def __init__(self, database: Database, *, callback_secret: str = "", twilio_auth_token: str = "") -> None:
        self.database = database
        self.callback_secret = callback_secret
        self.twilio_auth_token = twilio_auth_token

    def RecordDeliveryReport(self, request, context):
        params = dict(request.params)
        if request.provider == "twilio":
            if not verify_twilio_signature(self.twilio_auth_token, request.url, {k: v for k, v in params.items()}, request.signature):
                raise Unauthenticated("podpis raportu Twilio się nie zgadza")
            matched = record_delivery_report(self.database, "twilio", params.get("MessageSid", ""), "", params.get("MessageStatus", ""))
        elif request.provider == "smsapi":
            if not self.callback_secret or not hmac.compare_digest(params.pop("key", ""), self.callback_secret):
                raise Unauthenticated("nieznany nadawca raportu")
            matched = record_delivery_report(self.database, "smsapi", params.get("MsgId", ""), params.get("idx", ""), params.get("status_name") or params.get("status", ""))
        else:
            raise NotFound("nieznany dostawca SMS")
        return pb.DeliveryReportResponse(matched=matched)

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
