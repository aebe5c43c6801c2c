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
    if not isinstance(message, event_type.message_class):
        raise TypeError(f"{event_type.routing_key} carries {event_type.message_class.__name__}, not {type(message).__name__}")
    event_id = str(uuid.uuid4())
    session.execute(
        insert(OUTBOX_TABLE).values(
            event_id=event_id,
            routing_key=event_type.routing_key,
            payload=message.SerializeToString(),
            headers={"school_id": school_id, "subject": subject, "correlation_id": correlation_id()},
            occurred_at=datetime.now(timezone.utc),
        )
    )
    return event_id
