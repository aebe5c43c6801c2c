"""Notify's gRPC entrypoint: a person's notification settings."""
from __future__ import annotations

import hmac
import re
from datetime import date, datetime, timedelta

from dziennik.notify.v1 import notify_pb2 as pb
from dziennik.notify.v1 import notify_pb2_grpc
from platform_kit.auth import current_principal
from platform_kit.clock import SCHOOL_TIME, parse_day, school_today, utcnow
from platform_kit.db import Database
from platform_kit.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from services.notify import rules
from services.notify.alerts import record_delivery_report, sent_log, settings_of
from services.notify.providers.twilio import verify_twilio_signature
from services.notify.orm import Preference, SchoolSmsSettings

_E164 = re.compile(r"^\+[1-9]\d{7,14}$")


def _message(settings: rules.Settings) -> pb.Settings:
    return pb.Settings(sms_enabled=settings.sms_enabled, phone=settings.phone, events=list(settings.events), quiet_from=settings.quiet_from or "", quiet_to=settings.quiet_to or "")


class NotifyServicer(notify_pb2_grpc.NotifyServiceServicer):
    def __init__(self, database: Database, *, callback_secret: str = "", twilio_auth_token: str = "") -> None:
        self.database = database
        self.callback_secret = callback_secret
        self.twilio_auth_token = twilio_auth_token

    def ListSentLog(self, request, context):
        caller = _secretary()
        today = school_today()
        start = parse_day(getattr(request, "from"), "from") if getattr(request, "from") else today - timedelta(days=30)
        end = parse_day(request.to, "to") if request.to else today
        rows = sent_log(self.database, caller.school_id or "", _midnight(start), _midnight(end + timedelta(days=1)))
        return pb.ListSentLogResponse(
            items=[
                pb.SentSms(id=r.id, kind=r.kind, recipient_user_id=r.recipient_user_id, phone=r.phone, parts=r.parts, status=r.status,
                           delivery_status=r.delivery_status, created_at=r.created_at.isoformat(), sent_at=r.sent_at.isoformat() if r.sent_at else "")
                for r in rows
            ],
            sent_parts=sum(r.parts for r in rows if r.status == "sent"),
            failed=sum(1 for r in rows if r.status == "failed"),
        )

    def GetSchoolSmsSettings(self, request, context):
        caller = _secretary()
        with self.database.transaction() as session:
            row = session.get(SchoolSmsSettings, caller.school_id)
            return pb.SchoolSmsSettings(polish_characters=bool(row and row.polish_characters))

    def UpdateSchoolSmsSettings(self, request, context):
        caller = _secretary()
        with self.database.transaction() as session:
            row = session.get(SchoolSmsSettings, caller.school_id) or SchoolSmsSettings(school_id=caller.school_id)
            row.polish_characters, row.updated_at = request.polish_characters, utcnow()
            session.add(row)
        return pb.SchoolSmsSettings(polish_characters=request.polish_characters)

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


def _secretary():
    """The caller, who must be the secretary (school admin) of a school."""
    caller = current_principal()
    if "school_admin" not in caller.roles or not caller.school_id:
        raise PermissionDenied("SMS szkoły prowadzi sekretariat")
    return caller


def _midnight(day: date) -> datetime:
    """The start of a school day as an aware moment."""
    return datetime(day.year, day.month, day.day, tzinfo=SCHOOL_TIME)
