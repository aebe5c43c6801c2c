"""The event bus: outbox (write in the caller's transaction), relay (publish with confirms),
consumers (inbox, ack after commit, bounded delayed retries, dead letters)."""
from platform_kit.bus.events import Event, EventType
from platform_kit.bus.outbox import record_event, record_events
from platform_kit.bus.tables import define_bus_tables

__all__ = ["Event", "EventType", "define_bus_tables", "record_event", "record_events"]
