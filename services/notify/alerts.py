"""Which SMS an event leads to (planned in the consumer's transaction) and sending them."""
from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timezone

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import select
from sqlalchemy.orm import Session

from dziennik.gradebook.v1 import events_pb2 as gradebook_events
from dziennik.notify.v1 import events_pb2
from platform_kit.bus import Event, EventType, record_event
from platform_kit.db import Database
from services.notify import texts
from services.notify.orm import Sms
from services.notify.providers import SmsProvider

log = logging.getLogger(__name__)

GRADE_RECORDED = EventType("gradebook.grade_recorded.v1", gradebook_events.GradeRecorded)
SMS_SENT = EventType("notify.sms_sent.v1", events_pb2.SmsSent)
MAX_SEND_ATTEMPTS = 5


class StudentContacts:
    """What identity tells notify about a student (an adapter fills it in)."""

    def __init__(self, first_name: str, last_name: str, parents: list[tuple[str, str]]) -> None:
        self.first_name = first_name
        self.last_name = last_name
        self.parents = parents  # (user_id, phone)


ContactsLookup = Callable[[str], StudentContacts]


def plan_grade_alerts(session: Session, event: Event, contacts: ContactsLookup) -> int:
    """Queue one SMS per parent with a phone; returns how many were queued."""
    grade: gradebook_events.GradeRecorded = event.message
    student = contacts(grade.student_id)  # the parents and their phones; names travel in the event
    first, last = (grade.context.student_first_name, grade.context.student_last_name) if grade.context.student_id else (student.first_name, student.last_name)
    text = texts.render("grade_recorded", student=f"{first} {last}", value=grade.value, subject=grade.subject_name)
    queued = 0
    for user_id, phone in student.parents:
        if not phone:
            continue
        session.add(
            Sms(
                id=str(uuid.uuid4()),
                source_event_id=event.event_id,
                kind="grade_recorded",
                recipient_user_id=user_id,
                phone=phone,
                body=text.body,
                encoding=text.encoding,
                parts=text.parts,
                status="queued",
                created_at=datetime.now(timezone.utc),
            )
        )
        queued += 1
    return queued


class Dispatcher:
    """Sends queued SMS. Each is claimed, sent with its id as the provider's idx, and marked sent
    in one transaction; if the process dies after the provider took it, the resend is refused
    by the provider as a duplicate idx."""

    def __init__(self, database: Database, provider: SmsProvider, *, batch_size: int = 20) -> None:
        self.database = database
        self.provider = provider
        self.batch_size = batch_size
        self.wake = threading.Event()

    def send_pending(self) -> int:
        sent = 0
        while True:
            with self.database.transaction() as session:
                batch = session.scalars(
                    select(Sms).where(Sms.status == "queued").order_by(Sms.created_at).limit(self.batch_size).with_for_update(skip_locked=True)
                ).all()
                for sms in batch:
                    sent += self._send(session, sms)
            if len(batch) < self.batch_size:
                return sent

    def _send(self, session: Session, sms: Sms) -> int:
        sms.attempts += 1
        try:
            result = self.provider.send(idx=sms.id, to=sms.phone, body=sms.body, parts=sms.parts)
        except Exception as exc:  # provider down or refusing: keep it queued for a while, then give up
            log.warning("SMS %s not sent (attempt %d): %s", sms.id, sms.attempts, exc)
            sms.last_error = str(exc)[:1000]
            if sms.attempts >= MAX_SEND_ATTEMPTS:
                sms.status = "failed"
            return 0
        sms.status = "sent"
        sms.provider = self.provider.name
        sms.provider_message_id = result.provider_message_id
        sms.sent_at = datetime.now(timezone.utc)
        sent_at = Timestamp()
        sent_at.FromDatetime(sms.sent_at)
        record_event(
            session,
            SMS_SENT,
            events_pb2.SmsSent(
                sms_id=sms.id, source_event_id=sms.source_event_id, recipient_user_id=sms.recipient_user_id, parts=sms.parts, provider=self.provider.name, sent_at=sent_at
            ),
            subject=sms.recipient_user_id,
        )
        return 1

    def run(self, stop: threading.Event, *, interval: float = 1.0) -> None:
        while not stop.is_set():
            try:
                self.send_pending()
            except Exception as exc:  # database away: try again on the next tick
                log.warning("dispatcher could not send: %s", exc)
            self.wake.wait(interval)
            self.wake.clear()
