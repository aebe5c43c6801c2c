"""Writing events: an outbox row in the caller's transaction, never a publish after commit."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from google.protobuf.message import Message
from sqlalchemy import insert
from sqlalchemy.orm import Session

from platform_kit.bus.events import EventType
from platform_kit.bus.tables import OUTBOX_TABLE
from platform_kit.context import correlation_id


def record_event(
    session: Session,
    event_type: EventType,
    message: Message,
    *,
    school_id: str | None = None,
    subject: str | None = None,
) -> str:
    """Add `message` to the outbox inside `session`'s transaction; returns the event id.

    The event is published only if that transaction commits.
    """
    return record_events(session, event_type, [(message, school_id, subject)])[0]


def record_events(session: Session, event_type: EventType, events: list[tuple[Message, str | None, str | None]]) -> list[str]:
    """Add several events of one type (message, school_id, subject) to the outbox in one
    statement, in their order; returns their ids. Published only if the transaction commits."""
    now = datetime.now(timezone.utc)
    request = correlation_id()
    rows = []
    for message, school_id, subject in events:
        if not isinstance(message, event_type.message_class):
            raise TypeError(f"{event_type.routing_key} carries {event_type.message_class.__name__}, not {type(message).__name__}")
        rows.append(
            dict(
                event_id=str(uuid.uuid4()), routing_key=event_type.routing_key, payload=message.SerializeToString(),
                headers={"school_id": school_id, "subject": subject, "correlation_id": request}, occurred_at=now,
            )
        )
    if rows:
        session.execute(insert(OUTBOX_TABLE), rows)
    return [row["event_id"] for row in rows]
