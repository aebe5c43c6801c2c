"""Messaging's gRPC entrypoint, and the adapter that asks identity and gradebook."""
from __future__ import annotations

import threading
import time

from dziennik.gradebook.v1 import gradebook_pb2, gradebook_pb2_grpc
from dziennik.identity.v1 import identity_pb2, identity_pb2_grpc
from dziennik.messaging.v1 import messaging_pb2 as pb
from dziennik.messaging.v1 import messaging_pb2_grpc
from platform_kit.auth import current_principal, service_metadata
from services.messaging import directory as rules
from services.messaging.orm import Attachment, Ticket, TicketPost
from services.messaging.use_cases import Messaging, MessageView


def _optional(request, field: str):
    return getattr(request, field) if request.HasField(field) else None


def _iso(moment) -> str:
    return moment.isoformat() if moment else ""


def _attachment(a: Attachment) -> pb.Attachment:
    return pb.Attachment(id=a.id, filename=a.filename, content_type=a.content_type, size=a.size)


def _message(view: MessageView) -> pb.Message:
    m = view.message
    return pb.Message(
        id=m.id, thread_id=m.thread_id, sender_id=m.sender_id, sender_name=m.sender_name, subject=m.subject, body=m.body, sent_at=_iso(m.sent_at),
        attachments=[_attachment(a) for a in view.attachments], read_at=_iso(view.delivery.read_at) if view.delivery else "",
        receipts=[pb.Receipt(recipient_id=d.recipient_id, recipient_name=d.recipient_name, read_at=_iso(d.read_at)) for d in view.receipts],
        archived=bool(view.delivery and view.delivery.archived), in_reply_to=m.in_reply_to or "",
    )


def _ticket(ticket: Ticket, posts: list[TicketPost] = ()) -> pb.Ticket:
    return pb.Ticket(
        id=ticket.id, subject=ticket.subject, status=ticket.status, escalated=ticket.escalated, author_id=ticket.author_id, opened_at=_iso(ticket.opened_at),
        posts=[pb.TicketPost(author_id=p.author_id, body=p.body, at=_iso(p.at)) for p in posts],
    )


class MessagingServicer(messaging_pb2_grpc.MessagingServiceServicer):
    def __init__(self, messaging: Messaging) -> None:
        self.messaging = messaging

    def ListRecipients(self, request, context):
        return pb.ListRecipientsResponse(recipients=[pb.Recipient(id=r.id, name=r.name, kind=r.kind, detail=r.detail) for r in self.messaging.recipients(current_principal())])

    def UploadAttachment(self, request, context):
        return pb.UploadAttachmentResponse(attachment=_attachment(self.messaging.upload(current_principal(), request.filename, request.content_type, request.data)))

    def GetAttachment(self, request, context):
        attachment, data = self.messaging.attachment(current_principal(), request.attachment_id)
        return pb.GetAttachmentResponse(attachment=_attachment(attachment), data=data)

    def SendMessage(self, request, context):
        view = self.messaging.send(current_principal(), list(request.recipient_ids), request.subject, request.body, list(request.attachment_ids), request.in_reply_to)
        return pb.SendMessageResponse(message=_message(view))

    def ListMessages(self, request, context):
        views, cursor = self.messaging.messages(current_principal(), request.folder or "inbox", request.search, request.limit, request.cursor)
        return pb.ListMessagesResponse(messages=[_message(v) for v in views], next_cursor=cursor)

    def GetMessage(self, request, context):
        return pb.GetMessageResponse(message=_message(self.messaging.read(current_principal(), request.message_id)))

    def ArchiveMessage(self, request, context):
        self.messaging.archive(current_principal(), request.message_id, request.archived)
        return pb.ArchiveMessageResponse()

    def PublishAnnouncement(self, request, context):
        a = self.messaging.publish(current_principal(), request.title, request.body, list(request.class_ids), request.valid_from, request.valid_until)
        return pb.PublishAnnouncementResponse(announcement=_announcement(a, None))

    def ListAnnouncements(self, request, context):
        return pb.ListAnnouncementsResponse(announcements=[_announcement(a, r) for a, r in self.messaging.announcements(current_principal(), request.include_expired)])

    def MarkAnnouncementRead(self, request, context):
        self.messaging.mark_announcement_read(current_principal(), request.announcement_id)
        return pb.MarkAnnouncementReadResponse()

    def ScheduleEvent(self, request, context):
        event, warnings = self.messaging.schedule(current_principal(), request.kind, request.title, request.date, request.class_id, request.subject_id, request.description)
        return pb.ScheduleEventResponse(event=_event(event), warnings=warnings)

    def ListEvents(self, request, context):
        return pb.ListEventsResponse(events=[_event(e) for e in self.messaging.events(current_principal(), getattr(request, "from"), request.to)])

    def GetCalendarSettings(self, request, context):
        return pb.CalendarSettings(tests_per_week=self.messaging.calendar_settings(current_principal()))

    def UpdateCalendarSettings(self, request, context):
        return pb.CalendarSettings(tests_per_week=self.messaging.set_calendar_settings(current_principal(), request.tests_per_week))

    def CreateFeed(self, request, context):
        return pb.CreateFeedResponse(token=self.messaging.create_feed(current_principal()))

    def RevokeFeed(self, request, context):
        self.messaging.revoke_feed(current_principal())
        return pb.RevokeFeedResponse()

    def GetFeed(self, request, context):
        return pb.GetFeedResponse(ics=self.messaging.feed(request.token))

    def OpenTicket(self, request, context):
        ticket = self.messaging.open_ticket(current_principal(), request.subject, request.body)
        return pb.OpenTicketResponse(ticket=_ticket(*self.messaging.ticket(current_principal(), ticket.id)))

    def ListTickets(self, request, context):
        return pb.ListTicketsResponse(tickets=[_ticket(t) for t in self.messaging.tickets(current_principal(), request.status)])

    def GetTicket(self, request, context):
        return pb.GetTicketResponse(ticket=_ticket(*self.messaging.ticket(current_principal(), request.ticket_id)))

    def ReplyToTicket(self, request, context):
        return pb.ReplyToTicketResponse(ticket=_ticket(*self.messaging.reply(current_principal(), request.ticket_id, request.body)))

    def ChangeTicket(self, request, context):
        ticket = self.messaging.change_ticket(current_principal(), request.ticket_id, _optional(request, "status"), _optional(request, "escalated"))
        return pb.ChangeTicketResponse(ticket=_ticket(*ticket))


def _announcement(a, read_at) -> pb.Announcement:
    return pb.Announcement(
        id=a.id, title=a.title, body=a.body, class_ids=a.class_ids, valid_from=a.valid_from.isoformat(), valid_until=a.valid_until.isoformat() if a.valid_until else "",
        author_id=a.author_id, published_at=_iso(a.published_at), read_at=_iso(read_at),
    )


def _event(e) -> pb.CalendarEvent:
    return pb.CalendarEvent(id=e.id, kind=e.kind, title=e.title, date=e.date.isoformat(), class_id=e.class_id or "", subject_id=e.subject_id or "", description=e.description, author_id=e.author_id)


class SchoolDirectories:
    """identity's directory of a school (and gradebook's subject names), kept for a few seconds:
    a teacher sending a few messages should not rebuild it each time. `fresh` asks identity again
    (someone the cached copy does not know may have just been created)."""

    def __init__(self, identity_channel, gradebook_channel, service_token: str, ttl: float = 15.0) -> None:
        self.identity = identity_pb2_grpc.IdentityServiceStub(identity_channel)
        self.gradebook = gradebook_pb2_grpc.GradebookServiceStub(gradebook_channel)
        self.metadata = service_metadata(service_token)
        self.ttl = ttl
        self._cache: dict[str, tuple[float, rules.SchoolDirectory]] = {}
        self._lock = threading.Lock()

    def school(self, school_id: str, *, fresh: bool = False) -> rules.SchoolDirectory:
        with self._lock:
            cached = self._cache.get(school_id)
            if cached and not fresh and time.monotonic() - cached[0] < self.ttl:
                return cached[1]
        answer = self.identity.GetSchoolDirectory(identity_pb2.GetSchoolDirectoryRequest(school_id=school_id), metadata=self.metadata)
        subjects = self.gradebook.ListSubjects(gradebook_pb2.ListSubjectsRequest(school_id=school_id), metadata=self.metadata).subjects
        role = lambda value: identity_pb2.Role.Name(value).removeprefix("ROLE_").lower()  # noqa: E731
        directory = rules.SchoolDirectory(
            school_id=school_id,
            people={p.id: rules.Person(p.id, p.first_name, p.last_name, frozenset(role(r) for r in p.roles), p.class_id) for p in answer.people},
            classes={c.id: rules.SchoolClass(c.id, c.name, c.homeroom_teacher_id) for c in answer.classes},
            links=[(l.parent_id, l.student_id) for l in answer.links],
            teaching=[(t.teacher_id, t.class_id, t.subject_id) for t in answer.teaching],
            subject_names={s.id: s.name for s in subjects},
        )
        with self._lock:
            self._cache[school_id] = (time.monotonic(), directory)
        return directory
