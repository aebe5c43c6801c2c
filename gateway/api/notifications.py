"""A person's notification settings: SMS on or off, the phone, which events, quiet hours."""
from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate


from dziennik.notify.v1 import notify_pb2 as pb
from gateway.api.schemas import StrictBoolean
from gateway.security import accepts, caller, public

blp = Blueprint("notifications", __name__, url_prefix="/api/v1/me", description="Powiadomienia")

EVENTS = [
    "grade_recorded", "grade_changed", "term_grade_set", "absence_recorded", "excuse_decided", "message_received", "announcement_published",
    "access_extended", "access_expiring",
]


class QuietHoursSchema(Schema):
    from_ = fields.String(data_key="from", required=True, validate=validate.Regexp(r"^\d{2}:\d{2}$"), metadata={"example": "21:00"})
    to = fields.String(required=True, validate=validate.Regexp(r"^\d{2}:\d{2}$"), metadata={"example": "07:00"})


class NotificationSettingsSchema(Schema):
    sms_enabled = StrictBoolean(required=True)
    phone = fields.String(required=True, validate=validate.Length(max=20), metadata={"description": "E.164; empty: the number the school entered."})
    events = fields.List(fields.String(validate=validate.OneOf(EVENTS)), required=True)
    quiet_hours = fields.Nested(QuietHoursSchema, allow_none=True, required=True, metadata={"description": "null: no quiet hours. Alerts wait until the window ends."})


def _notify():
    return current_app.extensions["backends"].notify


def _body(settings) -> dict:
    quiet = {"from_": settings.quiet_from, "to": settings.quiet_to} if settings.quiet_from else None  # dumped as "from"
    return {"sms_enabled": settings.sms_enabled, "phone": settings.phone, "events": list(settings.events), "quiet_hours": quiet}


@blp.route("/notification-settings", methods=["GET"])
@blp.response(200, NotificationSettingsSchema)
def get_settings():
    """Your SMS settings (off until you turn them on)."""
    return _body(_notify().GetSettings(pb.GetSettingsRequest(), metadata=caller().metadata))


@blp.route("/notification-settings", methods=["PUT"])
@blp.arguments(NotificationSettingsSchema)
@blp.response(200, NotificationSettingsSchema)
def put_settings(body):
    """Turn SMS alerts on or off, choose the phone, the events and quiet hours."""
    quiet = body.get("quiet_hours") or {}
    settings = pb.Settings(sms_enabled=body["sms_enabled"], phone=body["phone"], events=body["events"], quiet_from=quiet.get("from_", ""), quiet_to=quiet.get("to", ""))
    return _body(_notify().UpdateSettings(settings, metadata=caller().metadata))


reports = Blueprint("sms-reports", __name__, url_prefix="/api/v1/notify", description="Raporty doręczeń SMS")


class DeliveryAnswerSchema(Schema):
    matched = StrictBoolean()


@public
@accepts("application/x-www-form-urlencoded", "multipart/form-data")
@reports.route("/sms/delivery-report/<provider>", methods=["GET", "POST"])
@reports.response(200, DeliveryAnswerSchema)
def delivery_report(provider):
    """A provider's delivery report (SMSAPI calls with the secret from its notify_url; Twilio signs
    with X-Twilio-Signature); updates the sent log."""
    from flask import request

    params = {**request.args.to_dict(), **request.form.to_dict()}
    settings = current_app.extensions["settings"]
    url = f"{settings.public_url.rstrip('/')}{request.path}"
    if request.query_string and provider != "twilio":
        url = f"{url}?{request.query_string.decode()}"
    answer = current_app.extensions["backends"].notify.RecordDeliveryReport(
        pb.DeliveryReport(provider=provider[:20], params=params, url=url, signature=request.headers.get("X-Twilio-Signature", ""))
    )
    return {"matched": answer.matched}



class SentSmsSchema(Schema):
    id = fields.String()
    kind = fields.String()
    recipient_user_id = fields.String()
    phone = fields.String()
    parts = fields.Integer()
    status = fields.String()
    delivery_status = fields.String(allow_none=True)
    created_at = fields.String()
    sent_at = fields.String(allow_none=True)


class SentLogSchema(Schema):
    items = fields.List(fields.Nested(SentSmsSchema))
    sent_parts = fields.Integer(metadata={"description": "SMS parts sent: what the provider bills."})
    failed = fields.Integer()


class LogPeriodSchema(Schema):
    from_ = fields.Date(data_key="from")
    to = fields.Date()


@reports.route("/sms-log", methods=["GET"])
@reports.arguments(LogPeriodSchema, location="query")
@reports.response(200, SentLogSchema)
def sms_log(query):
    """The school's SMS (the secretary): recipients, parts, status and delivery; default the last 30 days."""
    request_period = {"from": query["from_"].isoformat() if query.get("from_") else "", "to": query["to"].isoformat() if query.get("to") else ""}
    answer = current_app.extensions["backends"].notify.ListSentLog(pb.ListSentLogRequest(**request_period), metadata=caller().metadata)
    return {
        "items": [
            {"id": i.id, "kind": i.kind, "recipient_user_id": i.recipient_user_id, "phone": i.phone, "parts": i.parts, "status": i.status,
             "delivery_status": i.delivery_status or None, "created_at": i.created_at, "sent_at": i.sent_at or None}
            for i in answer.items
        ],
        "sent_parts": answer.sent_parts,
        "failed": answer.failed,
    }


class SchoolSmsSettingsSchema(Schema):
    polish_characters = StrictBoolean(
        required=True,
        metadata={"description": "true: texts keep Polish characters (UCS-2: 70 characters per SMS, 67 per part, so more parts); false: transliterated GSM-7."},
    )


@reports.route("/school-settings", methods=["GET"])
@reports.response(200, SchoolSmsSettingsSchema)
def get_school_settings():
    """The school's SMS choices (the secretary)."""
    answer = current_app.extensions["backends"].notify.GetSchoolSmsSettings(pb.GetSchoolSmsSettingsRequest(), metadata=caller().metadata)
    return {"polish_characters": answer.polish_characters}


@reports.route("/school-settings", methods=["PUT"])
@reports.arguments(SchoolSmsSettingsSchema)
@reports.response(200, SchoolSmsSettingsSchema)
def put_school_settings(body):
    """Choose full Polish characters (more parts, higher cost) or transliterated texts (the default)."""
    answer = current_app.extensions["backends"].notify.UpdateSchoolSmsSettings(pb.SchoolSmsSettings(polish_characters=body["polish_characters"]), metadata=caller().metadata)
    return {"polish_characters": answer.polish_characters}
