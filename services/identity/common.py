"""What identity's use cases share: time, events, and who may administer a school."""
from __future__ import annotations

from datetime import datetime, timezone

from dziennik.identity.v1 import events_pb2
from platform_kit.auth import Principal
from platform_kit.clock import utcnow as now  # noqa: F401 - identity's modules say now()
from platform_kit.bus import EventType
from platform_kit.errors import NotFound, PermissionDenied

USER_CREATED = EventType("identity.user_created.v1", events_pb2.UserCreated)
ACCESS_EXTENDED = EventType("identity.access_extended.v1", events_pb2.AccessExtended)


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def may_administer(caller: Principal, school_id: str | None) -> bool:
    return "superadmin" in caller.roles or ("school_admin" in caller.roles and caller.school_id == school_id)


def require_administrator(caller: Principal, school_id: str | None) -> None:
    """403 for a role that never administers; 404 for another school's objects."""
    if not caller.has_any_role("superadmin", "school_admin"):
        raise PermissionDenied("to może zrobić tylko sekretariat szkoły")
    if not may_administer(caller, school_id):
        raise NotFound("nie znaleziono")
