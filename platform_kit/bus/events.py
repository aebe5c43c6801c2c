"""What travels on the bus: an event type (routing key + protobuf message) and its envelope."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from google.protobuf.message import Message

M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class EventType(Generic[M]):
    """`routing_key` is `<service>.<event_in_past_tense>.v<N>`, the payload a protobuf message."""

    routing_key: str
    message_class: type[M]

    @property
    def source(self) -> str:
        return self.routing_key.split(".", 1)[0]


@dataclass(frozen=True)
class Event(Generic[M]):
    """An event as a consumer's handler sees it."""

    event_id: str
    type: str
    message: M
    occurred_at: datetime | None = None
    school_id: str | None = None
    subject: str | None = None
    correlation_id: str | None = None
    headers: dict = field(default_factory=dict)
