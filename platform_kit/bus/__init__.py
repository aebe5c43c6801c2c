"""The event bus: outbox (write in the caller's transaction), relay (publish with confirms),
consumers (inbox, ack after commit, bounded delayed retries, dead letters), and followers of
another service's changes (platform_kit/bus/follower.py).

The names below load their modules when first used: the gateway follows identity's changes
through `platform_kit.bus.follower` without loading SQLAlchemy for the outbox (~20 MB a worker).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from platform_kit.bus.events import Event, EventType
    from platform_kit.bus.outbox import record_event, record_events
    from platform_kit.bus.tables import define_bus_tables

__all__ = ["Event", "EventType", "define_bus_tables", "record_event", "record_events"]

_HOMES = {
    "Event": "platform_kit.bus.events",
    "EventType": "platform_kit.bus.events",
    "record_event": "platform_kit.bus.outbox",
    "record_events": "platform_kit.bus.outbox",
    "define_bus_tables": "platform_kit.bus.tables",
}


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'platform_kit.bus' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
