"""Which SMS an event leads to (planned in the consumer's transaction) and sending them."""
from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from prometheus_client import Counter
from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from dziennik.attendance.v1 import events_pb2 as attendance_events
from dziennik.gradebook.v1 import events_pb2 as gradebook_events
from dziennik.identity.v1 import events_pb2 as identity_events
from dziennik.messaging.v1 import events_pb2 as messaging_events
from dziennik.notify.v1 import events_pb2
from platform_kit.bus import Event, EventType, record_events
from platform_kit.clock import SCHOOL_TIME, proto_timestamp, utcnow
from platform_kit.db import Database
from services.notify import rules, texts
from services.notify.orm import AccessReminder, Preference, SchoolSmsSettings, Sms
from services.notify.providers import Sent, SmsProvider

log = logging.getLogger(__name__)

GRADE_RECORDED = EventType("gradebook.grade_recorded.v1", gradebook_events.GradeRecorded)
ABSENCE_RECORDED = EventType("attendance.absence_recorded.v1", attendance_events.AbsenceRecorded)
GRADE_CHANGED = EventType("gradebook.grade_changed.v1", gradebook_events.GradeChanged)
TERM_GRADE_SET = EventType("gradebook.term_grade_set.v1", gradebook_events.TermGradeSet)
EXCUSE_DECIDED = EventType("attendance.excuse_decided.v1", attendance_events.ExcuseDecided)
ACCESS_EXTENDED = EventType("identity.access_extended.v1", identity_events.AccessExtended)
MESSAGE_SENT = EventType("messaging.message_sent.v1", messaging_events.MessageSent)
ANNOUNCEMENT_PUBLISHED = EventType("messaging.announcement_published.v1", messaging_events.AnnouncementPublished)
SMS_SENT = EventType("notify.sms_sent.v1", events_pb2.SmsSent)
EXTENDED_ACCESS = "extended_access"
MAX_SEND_ATTEMPTS = 5
RETRY_BASE_SECONDS = 2.0
SMS_SENT_TOTAL = Counter("sms_sent_parts_total", "SMS parts handed to the provider.", ["provider"])
SMS_FAILED = Counter("sms_failed_total", "SMS given up on (refused by the provider, or out of attempts).", ["provider", "reason"])
SMS_DELAYED = Counter("sms_delayed_total", "SMS put back for a later try after a provider failure.", ["provider"])


@dataclass(frozen=True)
class Contact:
    """Someone an alert about a student may go to."""

    user_id: str
    phone: str = ""  # the number the school entered; the person's own setting wins
    # The school's access policy: the sms_alerts add-on, or extended access where the policy says so.
    sms_allowed: bool = True


@dataclass(frozen=True)
class StudentContacts:
    """What identity tells notify about a student (an adapter fills it in)."""

    first_name: str
    last_name: str
    parents: list[Contact] = field(default_factory=list)
    student: Contact | None = None  # the student, who may opt in to alerts of their own

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def people(self) -> list[Contact]:
        """Who alerts about the student's school life may reach: the parents, and the student."""
        return self.parents + ([self.student] if self.student else [])


ContactsLookup = Callable[[str], StudentContacts]
# The students of a school (school_id, class_ids; no classes: all of them) with their contacts.
RosterLookup = Callable[[str, list[str]], list[StudentContacts]]
# May this person get SMS at all (staff always; a parent or student by the school's policy)?
PersonPolicy = Callable[[str], bool]


def render(session: Session, school_id: str, kind: str, **values: str) -> texts.SmsText:
    """The event's text, with full Polish characters if the school chose them (UCS-2 parts)."""
    return _renderer(session, school_id)(kind, **values)


def _renderer(session: Session, school_id: str) -> Callable[..., texts.SmsText]:
    """Renders texts in the school's chosen characters (asked once)."""
    with session.no_autoflush:  # an SMS being planned may not be complete yet
        chosen = session.get(SchoolSmsSettings, school_id) if school_id else None
    polish_characters = bool(chosen and chosen.polish_characters)
    return lambda kind, **values: texts.render(kind, polish_characters=polish_characters, **values)


def settings_of(session: Session, user_id: str) -> rules.Settings:
    return _settings(session.get(Preference, user_id))


def _settings(row: Preference | None) -> rules.Settings:
    if row is None:
        return rules.Settings()
    return rules.Settings(row.sms_enabled, row.phone, tuple(row.events), row.quiet_from, row.quiet_to)


def _settings_of_many(session: Session, user_ids: set[str]) -> dict[str, rules.Settings]:
    """Everyone's settings in one statement; the defaults for those who never saved any."""
    found = {row.user_id: _settings(row) for row in session.scalars(select(Preference).where(Preference.user_id.in_(user_ids)))} if user_ids else {}
    return {user_id: found.get(user_id, rules.Settings()) for user_id in user_ids}


def _hold(settings: rules.Settings, earliest: datetime | None = None) -> datetime | None:
    """When an alert may go: after `earliest`, and never inside the person's quiet hours."""
    moment = max(earliest or utcnow(), utcnow())
    local = moment.astimezone(SCHOOL_TIME).replace(tzinfo=None)
    until = rules.quiet_until(local, settings.quiet_from, settings.quiet_to)
    if until is not None:
        return until.replace(tzinfo=SCHOOL_TIME).astimezone(timezone.utc)
    return earliest


def _recipients(people: list[Contact], event_name: str, settings_for: Callable[[str], rules.Settings], *, gated: bool = True) -> list[tuple[str, str, rules.Settings]]:
    """People who turned SMS on for this kind of event, with the phone they chose (else the
    school's); `gated`: only those the school's access policy allows SMS alerts."""
    chosen = []
    for person in people:
        if gated and not person.sms_allowed:
            continue
        settings = settings_for(person.user_id)
        phone = settings.phone or person.phone
        if settings.wants(event_name) and phone:
            chosen.append((person.user_id, phone, settings))
    return chosen


def _settings_in(session: Session) -> Callable[[str], rules.Settings]:
    return lambda user_id: settings_of(session, user_id)


def _sms_row(*, school_id: str, source_id: str, kind: str, user_id: str, phone: str, text: texts.SmsText, settings: rules.Settings) -> dict:
    """One SMS waiting to be sent, not inside the person's quiet hours (the unique key on source
    and recipient makes a second one for the same event impossible)."""
    return dict(
        id=str(uuid.uuid4()), school_id=school_id, source_event_id=source_id, kind=kind, recipient_user_id=user_id, phone=phone, body=text.body,
        encoding=text.encoding, parts=text.parts, status="queued", created_at=utcnow(), send_after=_hold(settings),
    )


def _queue(session: Session, **sms) -> None:
    session.add(Sms(**_sms_row(**sms)))


# -- alerts about a student (a grade, a changed grade, a term grade, an excuse decided) ------------


@dataclass(frozen=True)
class StudentAlert:
    """The SMS an event leads to about a student, before its recipients are known."""

    event_id: str
    kind: str
    student_id: str
    school_id: str
    # The text's values; "student" is looked up with the contacts when the event does not name them.
    values: dict[str, str]


# The contacts of some of a school's students (school_id, student ids) by student id: identity is
# asked once for a batch of events.
SchoolContactsLookup = Callable[[str, list[str]], dict[str, StudentContacts]]
AlertOf = Callable[[Event], "StudentAlert | None"]


def one_by_one(contacts: ContactsLookup) -> SchoolContactsLookup:
    """A school's students' contacts from a lookup that knows one student at a time."""
    return lambda school_id, student_ids: {student_id: contacts(student_id) for student_id in student_ids}


def _name(context) -> str:
    return f"{context.student_first_name} {context.student_last_name}"


def grade_recorded_alert(event: Event) -> StudentAlert:
    grade: gradebook_events.GradeRecorded = event.message
    values = {"value": grade.value, "subject": grade.subject_name}
    if grade.context.student_id:
        values["student"] = _name(grade.context)  # names travel in the event
    return StudentAlert(event.event_id, "grade_recorded", grade.student_id, grade.context.school_id or event.school_id or "", values)


def grade_changed_alert(event: Event) -> StudentAlert | None:
    change: gradebook_events.GradeChanged = event.message
    if change.old_value == change.new_value:
        return None  # a comment or category changed: nothing a parent needs by SMS
    values = {"student": _name(change.context), "subject": change.context.subject_name, "old": change.old_value, "new": change.new_value}
    return StudentAlert(event.event_id, "grade_changed", change.context.student_id, change.context.school_id or event.school_id or "", values)


TERM_KINDS = {
    "semester_proposed": "proponowana ocena śródroczna",
    "semester_final": "ocena śródroczna",
    "annual_proposed": "proponowana ocena roczna",
    "annual_final": "ocena roczna",
}


def term_grade_alert(event: Event) -> StudentAlert:
    term: gradebook_events.TermGradeSet = event.message
    values = {"student": _name(term.context), "subject": term.context.subject_name, "term": TERM_KINDS.get(term.kind, term.kind), "value": term.value}
    return StudentAlert(event.event_id, "term_grade_set", term.context.student_id, term.context.school_id or event.school_id or "", values)


def excuse_decided_alert(event: Event) -> StudentAlert:
    decided: attendance_events.ExcuseDecided = event.message
    values = {"student": _name(decided.student), "decision": "przyjęte" if decided.decision == "accepted" else "odrzucone"}
    return StudentAlert(event.event_id, "excuse_decided", decided.student.student_id, decided.student.school_id or event.school_id or "", values)


def plan_student_alerts(session: Session, events: list[Event], alert_of: AlertOf, contacts: SchoolContactsLookup) -> int:
    """Queue each event's text for the student's parents (and the student) who turned it on:
    one question to identity per school and one statement for everyone's settings, however
    many events. Returns how many SMS were queued."""
    alerts = [alert for alert in map(alert_of, events) if alert is not None]
    wanted: dict[str, set[str]] = {}
    for alert in alerts:
        wanted.setdefault(alert.school_id, set()).add(alert.student_id)
    sheets: dict[str, StudentContacts] = {}
    for school_id, student_ids in wanted.items():
        sheets.update(contacts(school_id, sorted(student_ids)))
    people = {person.user_id for sheet in sheets.values() for person in sheet.people()}
    settings = _settings_of_many(session, people)
    texts_by_school: dict[str, Callable[..., texts.SmsText]] = {}
    rows = []
    for alert in alerts:
        sheet = sheets[alert.student_id]
        if alert.school_id not in texts_by_school:
            texts_by_school[alert.school_id] = _renderer(session, alert.school_id)
        text = texts_by_school[alert.school_id](alert.kind, **{"student": sheet.name, **alert.values})
        for user_id, phone, chosen in _recipients(sheet.people(), alert.kind, settings.__getitem__):
            rows.append(_sms_row(school_id=alert.school_id, source_id=alert.event_id, kind=alert.kind, user_id=user_id, phone=phone, text=text, settings=chosen))
    if rows:
        session.execute(insert(Sms), rows)
    return len(rows)


def plan_grade_alerts(session: Session, event: Event, contacts: ContactsLookup) -> int:
    """A new grade: one SMS per opted-in parent (and student); returns how many were queued."""
    return plan_student_alerts(session, [event], grade_recorded_alert, one_by_one(contacts))


def plan_grade_change_alerts(session: Session, event: Event, contacts: ContactsLookup) -> int:
    return plan_student_alerts(session, [event], grade_changed_alert, one_by_one(contacts))


def plan_term_grade_alerts(session: Session, event: Event, contacts: ContactsLookup) -> int:
    return plan_student_alerts(session, [event], term_grade_alert, one_by_one(contacts))


def plan_excuse_alerts(session: Session, event: Event, contacts: ContactsLookup) -> int:
    return plan_student_alerts(session, [event], excuse_decided_alert, one_by_one(contacts))


def plan_absence_alerts(session: Session, event: Event, contacts: ContactsLookup, delay: timedelta) -> int:
    """One alert per phone and day listing every absent lesson of each child: it waits `delay`
    after the latest absence for the day's other lessons (and siblings), then goes once. A child
    already reported that day is not reported again."""
    absence: attendance_events.AbsenceRecorded = event.message
    student = absence.student
    lessons = {str(l.lesson_no): l.subject_name for l in absence.lessons}
    if not lessons:
        return 0
    school_id = student.school_id or event.school_id or ""
    queued = 0
    for user_id, phone, settings in _recipients(contacts(student.student_id).people(), "absence_recorded", _settings_in(session)):
        key = f"absence:{phone}:{absence.date}"
        same_day = list(session.scalars(select(Sms).where(Sms.group_key == key).with_for_update()))
        if any(s.status != "queued" and student.student_id in (s.details or {}) for s in same_day):
            continue  # this child was reported today already
        waiting = next((s for s in same_day if s.status == "queued"), None)
        if waiting is None:
            waiting = Sms(
                id=str(uuid.uuid4()), school_id=school_id, source_event_id=event.event_id, kind="absence_recorded", recipient_user_id=user_id, phone=phone,
                status="queued", created_at=utcnow(), group_key=key, details={},
            )
            session.add(waiting)
        details = dict(waiting.details or {})
        details[student.student_id] = {"name": f"{student.student_first_name} {student.student_last_name}", "lessons": lessons}
        waiting.details = details
        text = render(session, school_id, "absence_recorded", date=_polish_date(absence.date), absences=texts.absences_phrase(rules.absence_text_parts(details)))
        waiting.body, waiting.encoding, waiting.parts = text.body, text.encoding, text.parts
        waiting.send_after = _hold(settings, utcnow() + delay)
        queued += 1
    return queued


def _polish_date(iso: str) -> str:
    year, month, day = iso.split("-")
    return f"{day}.{month}"


class Dispatcher:
    """Sends queued SMS. Each is claimed, sent with its id as the provider's idx, and marked sent
    in one transaction; if the process dies after the provider took it, the resend is refused
    by the provider as a duplicate idx."""

    def __init__(self, database: Database, provider: SmsProvider, *, batch_size: int = 20, concurrency: int = 8) -> None:
        self.database = database
        self.provider = provider
        self.batch_size = batch_size
        self.wake = threading.Event()
        # A provider answers in 100-300 ms: one SMS at a time would cap a dispatcher at a few per
        # second, so a claimed batch goes out over several connections at once.
        self._senders = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sms-send") if concurrency > 1 else None

    def send_pending(self) -> int:
        sent = 0
        while True:
            with self.database.transaction() as session:
                due = or_(Sms.send_after.is_(None), Sms.send_after <= utcnow())
                batch = session.scalars(
                    select(Sms).where(Sms.status == "queued", due).order_by(Sms.created_at).limit(self.batch_size).with_for_update(skip_locked=True)
                ).all()
                for sms in batch:
                    sms.attempts += 1
                handed = (self._senders.map if self._senders and len(batch) > 1 else map)(self._hand_over, batch)
                news = []
                for sms, outcome in zip(batch, list(handed)):
                    sent_now = self._record(sms, outcome)
                    if sent_now is not None:
                        news.append((sent_now, sms.school_id, sms.recipient_user_id))
                record_events(session, SMS_SENT, news)  # one statement for the batch
                sent += len(news)
            if len(batch) < self.batch_size:
                return sent

    def _hand_over(self, sms: Sms) -> Sent | Exception:
        """The provider's answer, or what went wrong (no database work here: it runs in a pool)."""
        try:
            return self.provider.send(idx=sms.id, to=sms.phone, body=sms.body, parts=sms.parts)
        except Exception as exc:
            return exc

    def _record(self, sms: Sms, outcome: Sent | Exception) -> events_pb2.SmsSent | None:
        """The provider's answer on the SMS's row; the news of a sent one, for the outbox."""
        if isinstance(outcome, Exception):
            retryable = getattr(outcome, "retryable", True)  # a bug or an outage: worth another try
            sms.last_error = str(outcome)[:1000]
            if not retryable or sms.attempts >= MAX_SEND_ATTEMPTS:
                # Dead letter: kept in the log with its error, counted and logged for operators.
                sms.status = "failed"
                SMS_FAILED.labels(self.provider.name, "refused" if not retryable else "gave_up").inc()
                log.error("SMS %s failed for good after %d attempt(s): %s", sms.id, sms.attempts, outcome)
            else:
                # Exponential back-off with jitter, so a provider outage is not hammered in step.
                wait = timedelta(seconds=RETRY_BASE_SECONDS * 2 ** (sms.attempts - 1) * (1 + random.random() / 2))
                sms.send_after = utcnow() + wait
                SMS_DELAYED.labels(self.provider.name).inc()
                log.warning("SMS %s not sent (attempt %d), again in %.0fs: %s", sms.id, sms.attempts, wait.total_seconds(), outcome)
            return None
        sms.status = "sent"
        sms.provider = self.provider.name
        sms.provider_message_id = outcome.provider_message_id
        sms.sent_at = utcnow()
        SMS_SENT_TOTAL.labels(self.provider.name).inc(sms.parts)
        return events_pb2.SmsSent(
            sms_id=sms.id, source_event_id=sms.source_event_id, recipient_user_id=sms.recipient_user_id, parts=sms.parts,
            provider=self.provider.name, sent_at=proto_timestamp(sms.sent_at),
        )

    def run(self, stop: threading.Event, *, interval: float = 1.0) -> None:
        while not stop.is_set():
            try:
                self.send_pending()
            except Exception as exc:  # database away: try again on the next tick
                log.warning("dispatcher could not send: %s", exc)
            self.wake.wait(interval)
            self.wake.clear()


def record_delivery_report(database: Database, provider: str, provider_message_id: str, idx: str, status: str) -> bool:
    """A provider's delivery report updates the sent log; False when no SMS matches it."""
    with database.transaction() as session:
        query = select(Sms).where(Sms.provider == provider)
        if provider_message_id:
            query = query.where(Sms.provider_message_id == provider_message_id)
        elif idx:
            query = query.where(Sms.id == _uuid_of(idx))
        else:
            return False
        sms = session.scalars(query).first()
        if sms is None:
            return False
        sms.delivery_status = status.upper()[:20]
        sms.delivery_reported_at = utcnow()
        return True


def _uuid_of(idx: str) -> str:
    """SMSAPI's idx is our id without dashes."""
    raw = idx.replace("-", "")
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}" if len(raw) == 32 else idx


def sent_log(database: Database, school_id: str, start: datetime, end: datetime) -> list[Sms]:
    """The school's SMS in a period, newest first (the secretary's view of what alerts cost)."""
    with database.transaction() as session:
        return list(
            session.scalars(
                select(Sms).where(Sms.school_id == school_id, Sms.created_at >= start, Sms.created_at < end).order_by(Sms.created_at.desc()).limit(2000)
            )
        )


def _shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def plan_message_alert(session: Session, event: Event, allowed: PersonPolicy) -> int:
    """A new message: the recipient, if they turned it on and gave a phone (messages reach staff
    and students too, whose numbers the school may not have) and the school's policy allows."""
    sent: messaging_events.MessageSent = event.message
    settings = settings_of(session, sent.recipient_id)
    if not (settings.wants("message_received") and settings.phone) or not allowed(sent.recipient_id):
        return 0
    text = render(session, sent.school_id, "message_received", sender=sent.sender_name, subject=_shortened(sent.subject, 40))
    _queue(session, school_id=sent.school_id, source_id=event.event_id, kind="message_received", user_id=sent.recipient_id, phone=settings.phone, text=text, settings=settings)
    return 1


def plan_announcement_alerts(session: Session, event: Event, roster: RosterLookup) -> int:
    """A school or class announcement: one SMS per opted-in person, however many of their
    children it concerns, naming them."""
    announcement: messaging_events.AnnouncementPublished = event.message
    concerned: dict[str, tuple[Contact, list[str]]] = {}
    for student in roster(announcement.school_id, list(announcement.class_ids)):
        for person in student.people():
            known, names = concerned.get(person.user_id, (person, []))
            if person.sms_allowed and not known.sms_allowed:
                known = person  # SMS paid for one of the children is enough
            concerned[person.user_id] = (known, names + [student.first_name])
    queued = 0
    title = _shortened(announcement.title, 60)
    for person, names in concerned.values():
        for user_id, phone, settings in _recipients([person], "announcement_published", _settings_in(session)):
            text = render(session, announcement.school_id, "announcement_published", students=", ".join(sorted(set(names))), title=title)
            _queue(session, school_id=announcement.school_id, source_id=event.event_id, kind="announcement_published", user_id=user_id, phone=phone, text=text, settings=settings)
            queued += 1
    return queued


def on_access_extended(session: Session, event: Event, contacts: ContactsLookup, reminder_days: int) -> int:
    """Thank the parent (if they want it) and schedule the reminder before extended access
    ends. These are about the purchase itself, so they go whatever the SMS policy."""
    schedule_access_reminder(session, event, reminder_days)
    extended: identity_events.AccessExtended = event.message
    if not extended.parent_id:
        return 0
    student = contacts(extended.student_id)
    until = date.fromisoformat(extended.valid_until).strftime("%d.%m.%Y")
    kind = "access_extended" if extended.product in ("", EXTENDED_ACCESS) else f"access_extended.{extended.product}"
    if kind not in texts.TEMPLATES:
        log.warning("AccessExtended %s for %r: no thank-you text", event.event_id, extended.product)
        return 0
    text = render(session, extended.school_id, kind, student=student.name, date=until)
    parents = [person for person in student.parents if person.user_id == extended.parent_id]
    queued = 0
    for user_id, phone, settings in _recipients(parents, "access_extended", _settings_in(session), gated=False):
        _queue(session, school_id=extended.school_id, source_id=event.event_id, kind="access_extended", user_id=user_id, phone=phone, text=text, settings=settings)
        queued += 1
    return queued


# -- reminders before extended access ends -----------------------------------------------------------


def schedule_access_reminder(session: Session, event: Event, days_before: int) -> None:
    """Extended access now ends on `valid_until`: remind the parent `days_before` days earlier,
    replacing a reminder for an earlier end that has not gone out yet (the access was renewed)."""
    extended: identity_events.AccessExtended = event.message
    if not extended.parent_id or extended.product not in ("", EXTENDED_ACCESS):
        return  # add-ons (sms_alerts) end quietly
    until = date.fromisoformat(extended.valid_until)
    for older in session.scalars(
        select(AccessReminder).where(
            AccessReminder.parent_id == extended.parent_id, AccessReminder.student_id == extended.student_id,
            AccessReminder.queued_at.is_(None), AccessReminder.valid_until != until,
        )
    ):
        session.delete(older)
    exists = session.scalar(
        select(AccessReminder).where(
            AccessReminder.parent_id == extended.parent_id, AccessReminder.student_id == extended.student_id, AccessReminder.valid_until == until
        )
    )
    if exists is None:
        session.add(
            AccessReminder(
                id=str(uuid.uuid4()), school_id=extended.school_id, parent_id=extended.parent_id, student_id=extended.student_id,
                valid_until=until, remind_on=until - timedelta(days=days_before),
            )
        )


def queue_due_reminders(database: Database, contacts: ContactsLookup, today: date) -> int:
    """Queue the reminders due by `today`, each once (the reminder's id is the SMS's source)."""
    queued = 0
    with database.transaction() as session:
        due = session.scalars(
            select(AccessReminder).where(AccessReminder.remind_on <= today, AccessReminder.queued_at.is_(None)).limit(200).with_for_update(skip_locked=True)
        ).all()
        for reminder in due:
            reminder.queued_at = utcnow()
            if reminder.valid_until < today:
                continue  # it ended already: nothing to remind of
            student = contacts(reminder.student_id)
            phones = {person.user_id: person.phone for person in student.parents}
            if reminder.parent_id not in phones:
                continue
            settings = settings_of(session, reminder.parent_id)
            phone = settings.phone or phones[reminder.parent_id]
            if not (settings.wants("access_expiring") and phone):
                continue
            text = render(session, reminder.school_id, "access_expiring", student=student.name, date=reminder.valid_until.strftime("%d.%m.%Y"))
            _queue(session, school_id=reminder.school_id, source_id=reminder.id, kind="access_expiring", user_id=reminder.parent_id, phone=phone, text=text, settings=settings)
            queued += 1
    return queued
