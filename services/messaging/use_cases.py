"""What messaging does: messages with read receipts and attachments, announcements, the
calendar with its iCalendar feed, and technical help."""
from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy import func, or_, select

from dziennik.messaging.v1 import events_pb2
from platform_kit.auth import Principal
from platform_kit.clock import parse_day as _day
from platform_kit.clock import school_today as today
from platform_kit.clock import utcnow as _now
from platform_kit.bus import EventType, record_event
from platform_kit.db import Database
from platform_kit.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from services.messaging import directory as rules
from services.messaging.orm import (
    Announcement, AnnouncementRead, Attachment, CalendarEvent, CalendarFeed, CalendarSettings, Delivery, Message, Ticket, TicketPost,
)

MESSAGE_SENT = EventType("messaging.message_sent.v1", events_pb2.MessageSent)
ANNOUNCEMENT_PUBLISHED = EventType("messaging.announcement_published.v1", events_pb2.AnnouncementPublished)
CALENDAR_EVENT_SCHEDULED = EventType("messaging.calendar_event_scheduled.v1", events_pb2.CalendarEventScheduled)

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS = 5
# Documents and pictures parents and teachers send; the first bytes must agree with the type.
ATTACHMENT_TYPES = {
    "application/pdf": (b"%PDF",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "text/plain": (),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (b"PK\x03\x04",),
    "application/vnd.oasis.opendocument.text": (b"PK\x03\x04",),
}
EVENT_KINDS = ("test", "quiz", "event", "meeting")
DEFAULT_TESTS_PER_WEEK = 3  # the usual statute: at most three tests (sprawdziany) per class per week
TICKET_STATUSES = ("open", "answered", "closed")


class Directories(Protocol):
    def school(self, school_id: str) -> rules.SchoolDirectory: ...


@dataclass(frozen=True)
class MessageView:
    message: Message
    attachments: list[Attachment]
    delivery: Delivery | None  # the caller's copy (as a recipient)
    receipts: list[Delivery]  # the sender's view of every copy


def _text(value: str, field: str, label: str, limit: int) -> str:
    value = (value or "").strip()
    if not value or len(value) > limit:
        raise InvalidArgument(f"niepoprawne pole {field}", field_errors={field: f"{label}: od 1 do {limit} znaków."})
    return value


class Messaging:
    def __init__(self, database: Database, directories: Directories, attachments_dir: Path) -> None:
        self.database = database
        self.directories = directories
        self.attachments_dir = attachments_dir

    # -- messages -------------------------------------------------------------------------------------------

    def recipients(self, caller: Principal) -> list[rules.Recipient]:
        return rules.allowed_recipients(self._directory(caller), caller.user_id)

    def upload(self, caller: Principal, filename: str, content_type: str, data: bytes) -> Attachment:
        filename = Path((filename or "").replace("\\", "/")).name.strip()[:200]
        problems = {}
        if not filename:
            problems["filename"] = "Podaj nazwę pliku."
        if content_type not in ATTACHMENT_TYPES:
            problems["content_type"] = "Dozwolone: PDF, JPEG, PNG, TXT, DOCX, ODT."
        elif ATTACHMENT_TYPES[content_type] and not data.startswith(ATTACHMENT_TYPES[content_type]):
            problems["content_type"] = "Zawartość pliku nie zgadza się z jego typem."
        if not data:
            problems["file"] = "Plik jest pusty."
        if len(data) > MAX_ATTACHMENT_BYTES:
            problems["file"] = f"Plik może mieć najwyżej {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB."
        if problems:
            raise InvalidArgument("niepoprawny załącznik", field_errors=problems)
        attachment = Attachment(
            id=str(uuid.uuid4()), owner_id=caller.user_id, filename=filename, content_type=content_type, size=len(data),
            sha256=hashlib.sha256(data).hexdigest(), uploaded_at=_now(),
        )
        self.attachments_dir.mkdir(parents=True, exist_ok=True)
        (self.attachments_dir / attachment.id).write_bytes(data)  # before the row: a row always has its file
        with self.database.transaction() as session:
            session.add(attachment)
        return attachment

    def attachment(self, caller: Principal, attachment_id: str) -> tuple[Attachment, bytes]:
        with self.database.transaction() as session:
            attachment = session.get(Attachment, attachment_id) if attachment_id else None
            visible = attachment is not None and (
                attachment.owner_id == caller.user_id
                or (attachment.message_id and session.get(Delivery, (attachment.message_id, caller.user_id)) is not None)
            )
            if not visible:
                raise NotFound("nie ma takiego załącznika")
        return attachment, (self.attachments_dir / attachment.id).read_bytes()

    def send(self, caller: Principal, recipient_ids: list[str], subject: str, body: str, attachment_ids: list[str], in_reply_to: str = "") -> MessageView:
        """One copy per recipient: nobody learns who else got it. Only to whom the sender may write."""
        directory = self._directory(caller)
        problems = {}
        try:
            subject = _text(subject, "subject", "Temat", 200)
        except InvalidArgument as exc:
            problems.update(exc.field_errors)
        try:
            body = _text(body, "body", "Treść", 20_000)
        except InvalidArgument as exc:
            problems.update(exc.field_errors)
        if not recipient_ids:
            problems["recipient_ids"] = "Wybierz co najmniej jednego odbiorcę."
        people, not_allowed = rules.expand(directory, rules.allowed_recipients(directory, caller.user_id), recipient_ids)
        if not_allowed:  # perhaps someone created since the directory was cached: ask identity once more
            directory = self._directory(caller, fresh=True)
            people, not_allowed = rules.expand(directory, rules.allowed_recipients(directory, caller.user_id), recipient_ids)
        problems.update(not_allowed)
        if recipient_ids and not not_allowed and not people:
            problems["recipient_ids"] = "Ta grupa jest pusta."
        if len(attachment_ids) > MAX_ATTACHMENTS:
            problems["attachment_ids"] = f"Najwyżej {MAX_ATTACHMENTS} załączników."
        with self.database.transaction() as session:
            attachments = []
            for index, attachment_id in enumerate(attachment_ids):
                attachment = session.get(Attachment, attachment_id)
                if attachment is None or attachment.owner_id != caller.user_id or attachment.message_id is not None:
                    problems[f"attachment_ids[{index}]"] = "Nie ma takiego załącznika do wysłania."
                attachments.append(attachment)
            thread_id = None
            if in_reply_to:
                earlier = session.get(Message, in_reply_to)
                mine = earlier is not None and (earlier.sender_id == caller.user_id or session.get(Delivery, (earlier.id, caller.user_id)) is not None)
                if not mine:
                    problems["in_reply_to"] = "Nie ma takiej wiadomości."
                else:
                    thread_id = earlier.thread_id
            if problems:
                raise InvalidArgument("wiadomość nie została wysłana", field_errors=problems)
            sender = directory.people[caller.user_id]
            message_id = str(uuid.uuid4())
            message = Message(
                id=message_id, school_id=directory.school_id, thread_id=thread_id or message_id, in_reply_to=in_reply_to or None,
                sender_id=caller.user_id, sender_name=sender.name, subject=subject, body=body, sent_at=_now(),
            )
            session.add(message)
            session.flush()
            copies = [Delivery(message_id=message.id, recipient_id=p, recipient_name=directory.people[p].name, archived=False) for p in people]
            session.add_all(copies)
            for attachment in attachments:
                attachment.message_id = message.id
            for person in people:
                record_event(
                    session, MESSAGE_SENT,
                    events_pb2.MessageSent(message_id=message.id, school_id=message.school_id, sender_id=caller.user_id, sender_name=sender.name, recipient_id=person, subject=subject),
                    school_id=message.school_id, subject=person,
                )
            return MessageView(message, attachments, None, copies)

    def messages(self, caller: Principal, folder: str, search: str = "", limit: int = 50, cursor: str = "") -> tuple[list[MessageView], str]:
        if folder not in ("inbox", "sent", "archive"):
            raise InvalidArgument("nieznany folder", field_errors={"folder": "inbox, sent albo archive."})
        limit = max(1, min(limit or 50, 500))
        with self.database.transaction() as session:
            if folder == "sent":
                query = select(Message).where(Message.sender_id == caller.user_id)
            else:
                query = (
                    select(Message).join(Delivery, Delivery.message_id == Message.id)
                    .where(Delivery.recipient_id == caller.user_id, Delivery.archived.is_(folder == "archive"))
                )
            if search.strip():
                pattern = f"%{search.strip().lower()}%"
                query = query.where(or_(func.lower(Message.subject).like(pattern), func.lower(Message.body).like(pattern), func.lower(Message.sender_name).like(pattern)))
            if cursor:
                sent_at, _, message_id = cursor.partition("|")
                try:
                    moment = datetime.fromisoformat(sent_at)
                except ValueError:
                    raise InvalidArgument("niepoprawny kursor", field_errors={"cursor": "Użyj next_cursor z poprzedniej strony."}) from None
                query = query.where(or_(Message.sent_at < moment, (Message.sent_at == moment) & (Message.id < message_id)))
            rows = list(session.scalars(query.order_by(Message.sent_at.desc(), Message.id.desc()).limit(limit + 1)))
            page, more = rows[:limit], len(rows) > limit
            views = [self._view(session, caller, m) for m in page]
        next_cursor = f"{page[-1].sent_at.isoformat()}|{page[-1].id}" if more else ""
        return views, next_cursor

    def read(self, caller: Principal, message_id: str) -> MessageView:
        """The message; opening it marks it read for a recipient (the sender sees the receipt)."""
        with self.database.transaction() as session:
            message = session.get(Message, message_id) if message_id else None
            delivery = session.get(Delivery, (message_id, caller.user_id)) if message else None
            if message is None or (delivery is None and message.sender_id != caller.user_id):
                raise NotFound("nie ma takiej wiadomości")
            if delivery is not None and delivery.read_at is None:
                delivery.read_at = _now()
            return self._view(session, caller, message)

    def archive(self, caller: Principal, message_id: str, archived: bool) -> None:
        with self.database.transaction() as session:
            delivery = session.get(Delivery, (message_id, caller.user_id)) if message_id else None
            if delivery is None:
                raise NotFound("nie ma takiej wiadomości w odebranych")
            delivery.archived = archived

    def _view(self, session, caller: Principal, message: Message) -> MessageView:
        attachments = list(session.scalars(select(Attachment).where(Attachment.message_id == message.id)))
        delivery = session.get(Delivery, (message.id, caller.user_id))
        receipts = list(session.scalars(select(Delivery).where(Delivery.message_id == message.id))) if message.sender_id == caller.user_id else []
        return MessageView(message, attachments, delivery, receipts)

    # -- announcements ----------------------------------------------------------------------------------------

    def publish(self, caller: Principal, title: str, body: str, class_ids: list[str], valid_from: str = "", valid_until: str = "") -> Announcement:
        directory = self._directory(caller)
        problems = {}
        for field, value, label, limit in (("title", title, "Tytuł", 200), ("body", body, "Treść", 20_000)):
            try:
                _text(value, field, label, limit)
            except InvalidArgument as exc:
                problems.update(exc.field_errors)
        unknown = [i for i, c in enumerate(class_ids) if c not in directory.classes]
        for index in unknown:
            problems[f"class_ids[{index}]"] = "Nie ma takiej klasy w szkole."
        start = _day(valid_from, "valid_from") if valid_from else today()
        end = _day(valid_until, "valid_until") if valid_until else None
        if end and end < start:
            problems["valid_until"] = "Koniec ważności przed jej początkiem."
        if problems:
            raise InvalidArgument("ogłoszenie nie zostało opublikowane", field_errors=problems)
        if caller.has_any_role("school_admin", "principal"):
            pass
        elif "teacher" in caller.roles:
            mine = directory.classes_of(caller.user_id)
            if not class_ids or not set(class_ids) <= mine:
                raise PermissionDenied("nauczyciel ogłasza tylko dla swoich klas")
        else:
            raise PermissionDenied("ogłoszenia publikuje szkoła")
        with self.database.transaction() as session:
            announcement = Announcement(
                id=str(uuid.uuid4()), school_id=directory.school_id, author_id=caller.user_id, title=title.strip(), body=body.strip(),
                class_ids=sorted(set(class_ids)), valid_from=start, valid_until=end, published_at=_now(),
            )
            session.add(announcement)
            record_event(
                session, ANNOUNCEMENT_PUBLISHED,
                events_pb2.AnnouncementPublished(announcement_id=announcement.id, school_id=announcement.school_id, title=announcement.title,
                                                 class_ids=announcement.class_ids, valid_until=end.isoformat() if end else ""),
                school_id=announcement.school_id,
            )
            return announcement

    def announcements(self, caller: Principal, include_expired: bool = False) -> list[tuple[Announcement, datetime | None]]:
        """The school's and the caller's classes' announcements that are valid today, newest first."""
        directory = self._directory(caller)
        everything = caller.has_any_role("school_admin", "principal")
        classes = directory.classes_of(caller.user_id)
        day = today()
        with self.database.transaction() as session:
            rows = session.scalars(select(Announcement).where(Announcement.school_id == directory.school_id).order_by(Announcement.published_at.desc()))
            visible = [
                a for a in rows
                if (everything or not a.class_ids or set(a.class_ids) & classes)
                and (include_expired or (a.valid_from <= day and (a.valid_until is None or a.valid_until >= day)))
            ]
            reads = {r.announcement_id: r.read_at for r in session.scalars(select(AnnouncementRead).where(AnnouncementRead.user_id == caller.user_id))}
            return [(a, reads.get(a.id)) for a in visible]

    def mark_announcement_read(self, caller: Principal, announcement_id: str) -> None:
        if announcement_id not in {a.id for a, _ in self.announcements(caller, include_expired=True)}:
            raise NotFound("nie ma takiego ogłoszenia")
        with self.database.transaction() as session:
            if session.get(AnnouncementRead, (announcement_id, caller.user_id)) is None:
                session.add(AnnouncementRead(announcement_id=announcement_id, user_id=caller.user_id, read_at=_now()))

    # -- calendar -----------------------------------------------------------------------------------------------

    def schedule(self, caller: Principal, kind: str, title: str, day: str, class_id: str = "", subject_id: str = "", description: str = "") -> tuple[CalendarEvent, list[str]]:
        directory = self._directory(caller)
        problems = {}
        if kind not in EVENT_KINDS:
            problems["kind"] = f"Jedno z: {', '.join(EVENT_KINDS)}."
        try:
            _text(title, "title", "Tytuł", 200)
        except InvalidArgument as exc:
            problems.update(exc.field_errors)
        if class_id and class_id not in directory.classes:
            problems["class_id"] = "Nie ma takiej klasy w szkole."
        if kind in ("test", "quiz") and not class_id:
            problems["class_id"] = "Sprawdzian i kartkówka są dla klasy."
        if len(description) > 5000:
            problems["description"] = "Opis: najwyżej 5000 znaków."
        event_day = _day(day, "date")
        if problems:
            raise InvalidArgument("wydarzenie nie zostało dodane", field_errors=problems)
        if caller.has_any_role("school_admin", "principal"):
            pass
        elif "teacher" in caller.roles and class_id and class_id in directory.classes_of(caller.user_id):
            pass
        else:
            raise PermissionDenied("wydarzenia dodaje nauczyciel swojej klasy lub szkoła")
        warnings = []
        with self.database.transaction() as session:
            if kind == "test":
                monday = event_day - timedelta(days=event_day.weekday())
                tests = session.scalar(
                    select(func.count()).select_from(CalendarEvent).where(
                        CalendarEvent.class_id == class_id, CalendarEvent.kind == "test", CalendarEvent.date >= monday, CalendarEvent.date <= monday + timedelta(days=6)
                    )
                )
                limit = self._tests_per_week(session, directory.school_id)
                if tests >= limit:
                    warnings.append(f"Klasa {directory.classes[class_id].name} ma już w tym tygodniu {tests} sprawdziany (limit szkoły: {limit}).")
            event = CalendarEvent(
                id=str(uuid.uuid4()), school_id=directory.school_id, kind=kind, title=title.strip(), date=event_day, class_id=class_id or None,
                subject_id=subject_id or None, description=description.strip(), author_id=caller.user_id, created_at=_now(),
            )
            session.add(event)
            record_event(
                session, CALENDAR_EVENT_SCHEDULED,
                events_pb2.CalendarEventScheduled(event_id=event.id, school_id=event.school_id, kind=kind, title=event.title, date=event_day.isoformat(), class_id=class_id, subject_id=subject_id),
                school_id=event.school_id,
            )
            return event, warnings

    @staticmethod
    def _tests_per_week(session, school_id: str) -> int:
        row = session.get(CalendarSettings, school_id)
        return row.tests_per_week if row else DEFAULT_TESTS_PER_WEEK

    def calendar_settings(self, caller: Principal) -> int:
        directory = self._directory(caller)
        with self.database.transaction() as session:
            return self._tests_per_week(session, directory.school_id)

    def set_calendar_settings(self, caller: Principal, tests_per_week: int) -> int:
        if "school_admin" not in caller.roles:
            raise PermissionDenied("to ustawia sekretariat szkoły")
        if not 1 <= tests_per_week <= 10:
            raise InvalidArgument("niepoprawny limit", field_errors={"tests_per_week": "Od 1 do 10 sprawdzianów w tygodniu."})
        with self.database.transaction() as session:
            row = session.get(CalendarSettings, caller.school_id) or CalendarSettings(school_id=caller.school_id)
            row.tests_per_week = tests_per_week
            session.add(row)
        return tests_per_week

    def events(self, caller: Principal, start: str = "", end: str = "") -> list[CalendarEvent]:
        """The school's and the caller's classes' events; default today … today + 30 days."""
        first = _day(start, "from") if start else today()
        last = _day(end, "to") if end else first + timedelta(days=30)
        if last < first or (last - first).days > 400:
            raise InvalidArgument("niepoprawny okres", field_errors={"to": "Okres do 400 dni, koniec po początku."})
        return self._events_for(caller.user_id, self._directory(caller), first, last, everything=caller.has_any_role("school_admin", "principal"))

    def _events_for(self, user_id: str, directory: rules.SchoolDirectory, first: date, last: date, *, everything: bool = False) -> list[CalendarEvent]:
        classes = directory.classes_of(user_id)
        with self.database.transaction() as session:
            query = select(CalendarEvent).where(CalendarEvent.school_id == directory.school_id, CalendarEvent.date >= first, CalendarEvent.date <= last)
            if not everything:
                query = query.where(or_(CalendarEvent.class_id.is_(None), CalendarEvent.class_id.in_(classes)))
            return list(session.scalars(query.order_by(CalendarEvent.date, CalendarEvent.kind)))

    def create_feed(self, caller: Principal) -> str:
        """A new secret feed token (the old one, if any, stops working)."""
        token = secrets.token_urlsafe(24)
        with self.database.transaction() as session:
            for old in session.scalars(select(CalendarFeed).where(CalendarFeed.user_id == caller.user_id)):
                session.delete(old)
            session.flush()
            session.add(CalendarFeed(token_hash=hashlib.sha256(token.encode()).hexdigest(), user_id=caller.user_id, school_id=caller.school_id or "", created_at=_now()))
        return token

    def revoke_feed(self, caller: Principal) -> None:
        with self.database.transaction() as session:
            for old in session.scalars(select(CalendarFeed).where(CalendarFeed.user_id == caller.user_id)):
                session.delete(old)

    def feed(self, token: str) -> bytes:
        """The iCalendar (RFC 5545) file of a feed: the last 30 and the next 180 days."""
        with self.database.transaction() as session:
            feed = session.get(CalendarFeed, hashlib.sha256(token.encode()).hexdigest()) if token else None
            if feed is None:
                raise NotFound("nie ma takiego kalendarza")
        directory = self.directories.school(feed.school_id)
        person = directory.people.get(feed.user_id)
        everything = bool(person and person.roles & {"school_admin", "principal"})
        events = self._events_for(feed.user_id, directory, today() - timedelta(days=30), today() + timedelta(days=180), everything=everything)
        import icalendar  # imported here: only a calendar feed needs it (~3 MB in the server)

        calendar = icalendar.Calendar()
        calendar.add("prodid", "-//Dziennik//terminarz//PL")
        calendar.add("version", "2.0")
        calendar.add("x-wr-calname", "Dziennik: terminarz")
        kinds = {"test": "Sprawdzian", "quiz": "Kartkówka", "event": "Wydarzenie", "meeting": "Zebranie"}
        for event in events:
            entry = icalendar.Event()
            entry.add("uid", f"{event.id}@dziennik")
            entry.add("summary", f"{kinds[event.kind]}: {event.title}")
            entry.add("dtstart", event.date)
            entry.add("dtend", event.date + timedelta(days=1))
            entry.add("dtstamp", event.created_at)
            if event.class_id and event.class_id in directory.classes:
                entry.add("categories", [directory.classes[event.class_id].name])
            if event.description:
                entry.add("description", event.description)
            calendar.add_component(entry)
        return calendar.to_ical()

    # -- technical help ------------------------------------------------------------------------------------------

    def open_ticket(self, caller: Principal, subject: str, body: str) -> Ticket:
        problems = {}
        for field, value, label, limit in (("subject", subject, "Temat", 200), ("body", body, "Opis", 10_000)):
            try:
                _text(value, field, label, limit)
            except InvalidArgument as exc:
                problems.update(exc.field_errors)
        if problems:
            raise InvalidArgument("zgłoszenie nie zostało wysłane", field_errors=problems)
        if not caller.school_id:
            raise PermissionDenied("zgłoszenia wysyła się ze szkoły")
        with self.database.transaction() as session:
            ticket = Ticket(id=str(uuid.uuid4()), school_id=caller.school_id, author_id=caller.user_id, subject=subject.strip(), status="open", escalated=False, opened_at=_now())
            session.add(ticket)
            session.flush()
            session.add(TicketPost(ticket_id=ticket.id, author_id=caller.user_id, body=body.strip(), at=ticket.opened_at))
            return ticket

    def tickets(self, caller: Principal, status: str = "") -> list[Ticket]:
        """Your own tickets; the secretary sees the school's; the platform operator the escalated ones."""
        query = select(Ticket)
        if "superadmin" in caller.roles:
            query = query.where(Ticket.escalated.is_(True))
        elif "school_admin" in caller.roles:
            query = query.where(Ticket.school_id == caller.school_id)
        else:
            query = query.where(Ticket.author_id == caller.user_id)
        if status:
            query = query.where(Ticket.status == status)
        with self.database.transaction() as session:
            return list(session.scalars(query.order_by(Ticket.opened_at.desc()).limit(500)))

    def ticket(self, caller: Principal, ticket_id: str) -> tuple[Ticket, list[TicketPost]]:
        with self.database.transaction() as session:
            ticket = self._ticket(session, caller, ticket_id)
            return ticket, list(session.scalars(select(TicketPost).where(TicketPost.ticket_id == ticket.id).order_by(TicketPost.id)))

    def reply(self, caller: Principal, ticket_id: str, body: str) -> tuple[Ticket, list[TicketPost]]:
        body = _text(body, "body", "Odpowiedź", 10_000)
        with self.database.transaction() as session:
            ticket = self._ticket(session, caller, ticket_id)
            if ticket.status == "closed":
                raise Conflict("zgłoszenie jest zamknięte")
            session.add(TicketPost(ticket_id=ticket.id, author_id=caller.user_id, body=body, at=_now()))
            ticket.status = "answered" if caller.user_id != ticket.author_id else "open"
        return self.ticket(caller, ticket_id)

    def change_ticket(self, caller: Principal, ticket_id: str, status: str | None, escalated: bool | None) -> tuple[Ticket, list[TicketPost]]:
        with self.database.transaction() as session:
            ticket = self._ticket(session, caller, ticket_id)
            if status is not None:
                if status not in TICKET_STATUSES:
                    raise InvalidArgument("nieznany status", field_errors={"status": "open, answered albo closed."})
                ticket.status = status
            if escalated is not None:
                if "school_admin" not in caller.roles:
                    raise PermissionDenied("do operatora platformy przekazuje sekretariat")
                ticket.escalated = escalated
        return self.ticket(caller, ticket_id)

    def _ticket(self, session, caller: Principal, ticket_id: str) -> Ticket:
        ticket = session.get(Ticket, ticket_id) if ticket_id else None
        visible = ticket is not None and (
            ticket.author_id == caller.user_id
            or ("school_admin" in caller.roles and ticket.school_id == caller.school_id)
            or ("superadmin" in caller.roles and ticket.escalated)
        )
        if not visible:
            raise NotFound("nie ma takiego zgłoszenia")
        return ticket

    def _directory(self, caller: Principal, *, fresh: bool = False) -> rules.SchoolDirectory:
        if not caller.school_id:
            raise PermissionDenied("to działa w szkole")
        directory = self.directories.school(caller.school_id, fresh=fresh)
        if caller.user_id not in directory.people and not fresh:  # a new account: ask identity once more
            directory = self.directories.school(caller.school_id, fresh=True)
        if caller.user_id not in directory.people:
            raise PermissionDenied("to działa w szkole")
        return directory
