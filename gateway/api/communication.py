"""Communication (basic access for everyone): messages with attachments and read receipts,
announcements, the calendar with its iCalendar feed, and technical help."""
from __future__ import annotations

from flask import Response, current_app, request, url_for
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate


from dziennik.messaging.v1 import messaging_pb2 as pb
from gateway.api.schemas import StrictBoolean
from gateway.problems import Problem
from gateway.security import accepts, caller, public

blp = Blueprint("communication", __name__, url_prefix="/api/v1", description="Wiadomości, ogłoszenia, terminarz, pomoc")

_ID = validate.Length(min=1, max=80)
MAX_UPLOAD = 10 * 1024 * 1024
# What an attachment may be (messaging checks the content against the type); a download comes back as it was sent.
ATTACHMENT_TYPES = (
    "application/pdf", "image/jpeg", "image/png", "text/plain", "application/octet-stream",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/vnd.oasis.opendocument.text",
)
_FILE = {"schema": {"type": "string", "format": "binary"}}


def _messaging():
    return current_app.extensions["backends"].messaging


# -- messages ------------------------------------------------------------------------------------------


class RecipientSchema(Schema):
    id = fields.String(metadata={"description": "A person's id, or a group such as class:<id>:parents."})
    name = fields.String()
    kind = fields.String()
    detail = fields.String()


class AttachmentSchema(Schema):
    id = fields.String()
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()


class ReceiptSchema(Schema):
    recipient_id = fields.String()
    recipient_name = fields.String()
    read_at = fields.String(allow_none=True)


class MessageSchema(Schema):
    id = fields.String()
    thread_id = fields.String()
    in_reply_to = fields.String(allow_none=True)
    sender_id = fields.String()
    sender_name = fields.String()
    subject = fields.String()
    body = fields.String()
    sent_at = fields.String()
    attachments = fields.List(fields.Nested(AttachmentSchema))
    read_at = fields.String(allow_none=True, metadata={"description": "For a recipient: when they read it."})
    receipts = fields.List(fields.Nested(ReceiptSchema), metadata={"description": "For the sender: each recipient's read time."})
    archived = StrictBoolean()


class MessageListSchema(Schema):
    items = fields.List(fields.Nested(MessageSchema))
    next_cursor = fields.String(allow_none=True)


class NewMessageSchema(Schema):
    recipient_ids = fields.List(fields.String(validate=_ID), required=True, validate=validate.Length(min=1, max=200))
    subject = fields.String(required=True, validate=validate.Length(min=1, max=200))
    body = fields.String(required=True, validate=validate.Length(min=1, max=20_000))
    attachment_ids = fields.List(fields.String(validate=_ID), validate=validate.Length(max=5))
    in_reply_to = fields.String(validate=_ID)


class MessageQuerySchema(Schema):
    folder = fields.String(load_default="inbox", validate=validate.OneOf(["inbox", "sent", "archive"]))
    q = fields.String(validate=validate.Length(max=200), metadata={"description": "Search in subject, body and sender."})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String(validate=validate.Length(max=200))


class ArchiveSchema(Schema):
    archived = StrictBoolean(required=True)


def _message(m) -> dict:
    return {
        "id": m.id, "thread_id": m.thread_id, "in_reply_to": m.in_reply_to or None, "sender_id": m.sender_id, "sender_name": m.sender_name,
        "subject": m.subject, "body": m.body, "sent_at": m.sent_at,
        "attachments": [{"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size} for a in m.attachments],
        "read_at": m.read_at or None, "receipts": [{"recipient_id": r.recipient_id, "recipient_name": r.recipient_name, "read_at": r.read_at or None} for r in m.receipts],
        "archived": m.archived,
    }


@blp.route("/messages/recipients", methods=["GET"])
@blp.response(200, RecipientSchema(many=True))
def recipients():
    """Exactly the people (and class groups) the caller may write to."""
    return [{"id": r.id, "name": r.name, "kind": r.kind, "detail": r.detail} for r in _messaging().ListRecipients(pb.ListRecipientsRequest(), metadata=caller().metadata).recipients]


@accepts(*ATTACHMENT_TYPES, max_body=MAX_UPLOAD + 1024)
@blp.route("/messages/attachments", methods=["POST"])
@blp.response(201, AttachmentSchema)
@blp.doc(parameters=[{"name": "filename", "in": "query", "required": True, "schema": {"type": "string"}}], requestBody={"content": {t: _FILE for t in ATTACHMENT_TYPES}})
def upload_attachment():
    """Upload a file (the body, with its Content-Type; `?filename=`) to attach to a message:
    PDF, JPEG, PNG, TXT, DOCX or ODT up to 10 MB."""
    if (request.content_length or 0) > MAX_UPLOAD:
        raise Problem("payload_too_large", "Załącznik może mieć najwyżej 10 MB.")
    answer = _messaging().UploadAttachment(
        pb.UploadAttachmentRequest(filename=request.args.get("filename", ""), content_type=request.mimetype, data=request.get_data(cache=False)), metadata=caller().metadata
    )
    a = answer.attachment
    return {"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size}


@blp.route("/messages/attachments/<attachment_id>", methods=["GET"])
@blp.response(200, {"type": "string", "format": "binary"}, content_type="application/octet-stream")
@blp.doc(responses={"200": {"content": {t: _FILE for t in ATTACHMENT_TYPES}}})
def download_attachment(attachment_id):
    """Download an attachment of a message you sent or received."""
    answer = _messaging().GetAttachment(pb.GetAttachmentRequest(attachment_id=attachment_id), metadata=caller().metadata)
    name = answer.attachment.filename.replace('"', "")
    return Response(answer.data, mimetype=answer.attachment.content_type, headers={"Content-Disposition": f'attachment; filename="{name}"', "X-Content-Type-Options": "nosniff"})


@blp.route("/messages", methods=["POST"])
@blp.arguments(NewMessageSchema)
@blp.response(201, MessageSchema)
def send_message(body):
    """Send a message; a group goes as one copy per recipient, so nobody learns who else got it."""
    answer = _messaging().SendMessage(
        pb.SendMessageRequest(recipient_ids=body["recipient_ids"], subject=body["subject"], body=body["body"], attachment_ids=body.get("attachment_ids", []), in_reply_to=body.get("in_reply_to", "")),
        metadata=caller().metadata,
    )
    return _message(answer.message)


@blp.route("/messages", methods=["GET"])
@blp.arguments(MessageQuerySchema, location="query")
@blp.response(200, MessageListSchema)
def list_messages(query):
    """The inbox, sent messages or the archive, newest first; `q` searches."""
    answer = _messaging().ListMessages(
        pb.ListMessagesRequest(folder=query["folder"], search=query.get("q", ""), limit=query["limit"], cursor=query.get("cursor", "")), metadata=caller().metadata
    )
    return {"items": [_message(m) for m in answer.messages], "next_cursor": answer.next_cursor or None}


@blp.route("/messages/<message_id>", methods=["GET"])
@blp.response(200, MessageSchema)
def read_message(message_id):
    """A message; opening it marks it read (the sender sees the receipt)."""
    return _message(_messaging().GetMessage(pb.GetMessageRequest(message_id=message_id), metadata=caller().metadata).message)


@blp.route("/messages/<message_id>/archive", methods=["PUT"])
@blp.arguments(ArchiveSchema)
@blp.response(204)
def archive_message(body, message_id):
    """Move a received message to the archive (or back)."""
    _messaging().ArchiveMessage(pb.ArchiveMessageRequest(message_id=message_id, archived=body["archived"]), metadata=caller().metadata)


# -- announcements ---------------------------------------------------------------------------------------


class NewAnnouncementSchema(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    body = fields.String(required=True, validate=validate.Length(min=1, max=20_000))
    class_ids = fields.List(fields.String(validate=_ID), validate=validate.Length(max=100), metadata={"description": "Empty or absent: the whole school."})
    valid_from = fields.Date()
    valid_until = fields.Date()


class AnnouncementSchema(Schema):
    id = fields.String()
    title = fields.String()
    body = fields.String()
    class_ids = fields.List(fields.String())
    valid_from = fields.String()
    valid_until = fields.String(allow_none=True)
    author_id = fields.String()
    published_at = fields.String()
    read_at = fields.String(allow_none=True)


class AnnouncementListSchema(Schema):
    items = fields.List(fields.Nested(AnnouncementSchema))


def _announcement(a) -> dict:
    return {"id": a.id, "title": a.title, "body": a.body, "class_ids": list(a.class_ids), "valid_from": a.valid_from, "valid_until": a.valid_until or None,
            "author_id": a.author_id, "published_at": a.published_at, "read_at": a.read_at or None}


@blp.route("/announcements", methods=["POST"])
@blp.arguments(NewAnnouncementSchema)
@blp.response(201, AnnouncementSchema)
def publish(body):
    """An announcement for the whole school (the secretary, the principal) or chosen classes (their teachers too)."""
    answer = _messaging().PublishAnnouncement(
        pb.PublishAnnouncementRequest(title=body["title"], body=body["body"], class_ids=body.get("class_ids", []),
                                      valid_from=body["valid_from"].isoformat() if body.get("valid_from") else "", valid_until=body["valid_until"].isoformat() if body.get("valid_until") else ""),
        metadata=caller().metadata,
    )
    return _announcement(answer.announcement)


@blp.route("/announcements", methods=["GET"])
@blp.response(200, AnnouncementListSchema)
def announcements():
    """Announcements for the caller's school and classes that are valid today, with their read state."""
    return {"items": [_announcement(a) for a in _messaging().ListAnnouncements(pb.ListAnnouncementsRequest(), metadata=caller().metadata).announcements]}


@blp.route("/announcements/<announcement_id>/read", methods=["POST"])
@blp.response(204)
def read_announcement(announcement_id):
    """Mark an announcement read."""
    _messaging().MarkAnnouncementRead(pb.MarkAnnouncementReadRequest(announcement_id=announcement_id), metadata=caller().metadata)


# -- calendar ---------------------------------------------------------------------------------------------


class NewEventSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(["test", "quiz", "event", "meeting"]))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    date = fields.Date(required=True)
    class_id = fields.String(validate=_ID)
    subject_id = fields.String(validate=_ID)
    description = fields.String(validate=validate.Length(max=5000))


class EventSchema(Schema):
    id = fields.String()
    kind = fields.String()
    title = fields.String()
    date = fields.String()
    class_id = fields.String(allow_none=True)
    subject_id = fields.String(allow_none=True)
    description = fields.String()
    author_id = fields.String()


class ScheduledSchema(EventSchema):
    warnings = fields.List(fields.String(), metadata={"description": "E.g. the class's tests per week limit is reached."})


class EventListSchema(Schema):
    items = fields.List(fields.Nested(EventSchema))


class CalendarQuerySchema(Schema):
    from_ = fields.Date(data_key="from", metadata={"description": "Default today."})
    to = fields.Date(metadata={"description": "Default from + 30 days."})


class FeedSchema(Schema):
    url = fields.String(metadata={"description": "Secret address to subscribe to (Google Calendar, a phone); creating a new one revokes the old."})


def _event(e) -> dict:
    return {"id": e.id, "kind": e.kind, "title": e.title, "date": e.date, "class_id": e.class_id or None, "subject_id": e.subject_id or None,
            "description": e.description, "author_id": e.author_id}


@blp.route("/calendar/events", methods=["POST"])
@blp.arguments(NewEventSchema)
@blp.response(201, ScheduledSchema)
def schedule(body):
    """Add a test, quiz, event or parent–teacher meeting for a class (its teachers) or the school (the secretary, the principal)."""
    answer = _messaging().ScheduleEvent(
        pb.ScheduleEventRequest(kind=body["kind"], title=body["title"], date=body["date"].isoformat(), class_id=body.get("class_id", ""),
                                subject_id=body.get("subject_id", ""), description=body.get("description", "")),
        metadata=caller().metadata,
    )
    return {**_event(answer.event), "warnings": list(answer.warnings)}


@blp.route("/calendar", methods=["GET"])
@blp.arguments(CalendarQuerySchema, location="query")
@blp.response(200, EventListSchema)
def calendar(query):
    """The caller's calendar: the school's events and their classes'."""
    answer = _messaging().ListEvents(
        pb.ListEventsRequest(**{"from": query["from_"].isoformat() if query.get("from_") else "", "to": query["to"].isoformat() if query.get("to") else ""}), metadata=caller().metadata
    )
    return {"items": [_event(e) for e in answer.events]}


class CalendarSettingsSchema(Schema):
    tests_per_week = fields.Integer(required=True, validate=validate.Range(min=1, max=10))


@blp.route("/calendar/settings", methods=["GET"])
@blp.response(200, CalendarSettingsSchema)
def calendar_settings():
    """The school's limit of tests per class per week."""
    return {"tests_per_week": _messaging().GetCalendarSettings(pb.GetCalendarSettingsRequest(), metadata=caller().metadata).tests_per_week}


@blp.route("/calendar/settings", methods=["PUT"])
@blp.arguments(CalendarSettingsSchema)
@blp.response(200, CalendarSettingsSchema)
def put_calendar_settings(body):
    """Change the limit (the secretary); a teacher scheduling one more test that week is warned."""
    answer = _messaging().UpdateCalendarSettings(pb.CalendarSettings(tests_per_week=body["tests_per_week"]), metadata=caller().metadata)
    return {"tests_per_week": answer.tests_per_week}


@blp.route("/me/calendar-feed", methods=["POST"])
@blp.response(201, FeedSchema)
def create_feed():
    """A personal iCalendar feed URL (a new one revokes the previous)."""
    token = _messaging().CreateFeed(pb.CreateFeedRequest(), metadata=caller().metadata).token
    settings = current_app.extensions["settings"]
    return {"url": f"{settings.public_url.rstrip('/')}{url_for('communication.feed', token=token)}"}


@blp.route("/me/calendar-feed", methods=["DELETE"])
@blp.response(204)
def revoke_feed():
    """Stop the personal iCalendar feed."""
    _messaging().RevokeFeed(pb.RevokeFeedRequest(), metadata=caller().metadata)


@public
@blp.route("/calendar/feeds/<token>.ics", methods=["GET"])
@blp.response(200, {"type": "string"}, content_type="text/calendar")
def feed(token):
    """The iCalendar file behind a personal feed URL (the secret token is the credential)."""
    answer = _messaging().GetFeed(pb.GetFeedRequest(token=token[:100]))
    return Response(answer.ics, mimetype="text/calendar", headers={"Cache-Control": "private, max-age=300"})


# -- technical help --------------------------------------------------------------------------------------


class NewTicketSchema(Schema):
    subject = fields.String(required=True, validate=validate.Length(min=1, max=200))
    body = fields.String(required=True, validate=validate.Length(min=1, max=10_000))


class TicketReplySchema(Schema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=10_000))


class TicketChangeSchema(Schema):
    status = fields.String(validate=validate.OneOf(["open", "answered", "closed"]))
    escalated = StrictBoolean(metadata={"description": "The secretary passes it to the platform operator."})


class TicketPostSchema(Schema):
    author_id = fields.String()
    body = fields.String()
    at = fields.String()


class TicketSchema(Schema):
    id = fields.String()
    subject = fields.String()
    status = fields.String()
    escalated = StrictBoolean()
    author_id = fields.String()
    opened_at = fields.String()
    posts = fields.List(fields.Nested(TicketPostSchema))


class TicketListSchema(Schema):
    items = fields.List(fields.Nested(TicketSchema))


class TicketQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(["open", "answered", "closed"]))


def _ticket(t) -> dict:
    return {"id": t.id, "subject": t.subject, "status": t.status, "escalated": t.escalated, "author_id": t.author_id, "opened_at": t.opened_at,
            "posts": [{"author_id": p.author_id, "body": p.body, "at": p.at} for p in t.posts]}


@blp.route("/support/tickets", methods=["POST"])
@blp.arguments(NewTicketSchema)
@blp.response(201, TicketSchema)
def open_ticket(body):
    """Ask the school's secretary for help."""
    return _ticket(_messaging().OpenTicket(pb.OpenTicketRequest(subject=body["subject"], body=body["body"]), metadata=caller().metadata).ticket)


@blp.route("/support/tickets", methods=["GET"])
@blp.arguments(TicketQuerySchema, location="query")
@blp.response(200, TicketListSchema)
def list_tickets(query):
    """Your tickets; the school's for the secretary; the escalated ones for the platform operator."""
    return {"items": [_ticket(t) for t in _messaging().ListTickets(pb.ListTicketsRequest(status=query.get("status", "")), metadata=caller().metadata).tickets]}


@blp.route("/support/tickets/<ticket_id>", methods=["GET"])
@blp.response(200, TicketSchema)
def get_ticket(ticket_id):
    """A ticket with its conversation."""
    return _ticket(_messaging().GetTicket(pb.GetTicketRequest(ticket_id=ticket_id), metadata=caller().metadata).ticket)


@blp.route("/support/tickets/<ticket_id>/replies", methods=["POST"])
@blp.arguments(TicketReplySchema)
@blp.response(201, TicketSchema)
def reply_to_ticket(body, ticket_id):
    """Reply in a ticket (the author or the helper)."""
    return _ticket(_messaging().ReplyToTicket(pb.ReplyToTicketRequest(ticket_id=ticket_id, body=body["body"]), metadata=caller().metadata).ticket)


@blp.route("/support/tickets/<ticket_id>", methods=["PATCH"])
@blp.arguments(TicketChangeSchema)
@blp.response(200, TicketSchema)
def change_ticket(body, ticket_id):
    """Close or reopen a ticket; the secretary passes it to the platform operator."""
    change = pb.ChangeTicketRequest(ticket_id=ticket_id)
    if "status" in body:
        change.status = body["status"]
    if "escalated" in body:
        change.escalated = body["escalated"]
    return _ticket(_messaging().ChangeTicket(change, metadata=caller().metadata).ticket)
