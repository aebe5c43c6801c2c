"""PeopleChanged: one event per transaction that changes what other services keep copies of.

The gateway keeps identity's "yes" to access checks and gradebook keeps students' and teachers'
facts (platform_kit/cache.py); both drop their copies about the people an event names, so those
copies can live for minutes instead of seconds. Which rows matter is said here, once, and a
session listener records the event for every transaction that touches them: a use case written
tomorrow cannot forget it. The event is written to the outbox in the same transaction (nothing is
published for a change that rolled back).

Rows that matter: parent–child links, enrolments, teaching assignments, classes (homeroom
teachers), entitlements and add-ons, roles, a user's school and name, a school's access policy.
Rows of people created in the same transaction are not named: nobody holds a copy about someone
who did not exist (refusals and "not found" are never kept).
"""
from __future__ import annotations

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from dziennik.identity.v1 import events_pb2
from platform_kit.bus import EventType, record_event
from services.identity.orm import AddOn, Enrolment, Entitlement, ParentLink, School, SchoolClass, TeachingAssignment, User, UserRole

PEOPLE_CHANGED = EventType("identity.people_changed.v1", events_pb2.PeopleChanged)

# Each row type whose change concerns people, and the columns naming them.
_PEOPLE_COLUMNS: dict[type, tuple[str, ...]] = {
    ParentLink: ("parent_id", "student_id"),
    Enrolment: ("student_id",),
    TeachingAssignment: ("teacher_id",),
    SchoolClass: ("homeroom_teacher_id",),
    Entitlement: ("holder_id", "student_id"),
    AddOn: ("holder_id", "student_id"),
    UserRole: ("user_id",),
}
# Besides the people's ids, columns whose change matters (how long access lasts, which class).
_VALUE_COLUMNS: dict[type, tuple[str, ...]] = {
    Entitlement: ("valid_until",),
    AddOn: ("valid_until",),
    Enrolment: ("class_id",),
    TeachingAssignment: ("class_id", "subject_id"),
}
# A user's columns that others keep copies of (credentials, contacts and MFA are identity's alone).
_COPIED_USER_COLUMNS = ("school_id", "first_name", "last_name")
# A school's columns whose change concerns everyone in it.
_SCHOOL_WIDE_COLUMNS = ("access_policy", "extended_features")

_KEY = "identity.people_changed"


class _Pending:
    __slots__ = ("user_ids", "created_ids", "school_id")

    def __init__(self) -> None:
        self.user_ids: set[str] = set()
        self.created_ids: set[str] = set()
        self.school_id = ""


def _changed(row, columns: tuple[str, ...]) -> bool:
    state = inspect(row)
    return any(state.attrs[name].history.has_changes() for name in columns)


def _named(row, columns: tuple[str, ...]) -> set[str]:
    """The ids in `columns`, and those they held before this flush (a class's former homeroom
    teacher loses it too)."""
    state = inspect(row)
    ids = {getattr(row, name) for name in columns}
    for name in columns:
        ids.update(state.attrs[name].history.deleted or ())
    return {i for i in ids if i}


def _collect(session: Session, _flush_context) -> None:
    pending: _Pending | None = None
    for rows, created in ((session.new, True), (session.dirty, False), (session.deleted, False)):
        for row in rows:
            kind = type(row)
            if kind is User:
                if created or _changed(row, _COPIED_USER_COLUMNS):
                    pending = pending or session.info.setdefault(_KEY, _Pending())
                    (pending.created_ids if created else pending.user_ids).add(row.id)
            elif kind is School:
                if not created and _changed(row, _SCHOOL_WIDE_COLUMNS):
                    pending = pending or session.info.setdefault(_KEY, _Pending())
                    pending.school_id = row.id
            elif kind in _PEOPLE_COLUMNS:
                columns = _PEOPLE_COLUMNS[kind]
                if created or row in session.deleted or _changed(row, columns + _VALUE_COLUMNS.get(kind, ())):
                    pending = pending or session.info.setdefault(_KEY, _Pending())
                    pending.user_ids |= _named(row, columns)


def _record(session: Session) -> None:
    session.flush()  # what the last statements changed is collected before the transaction ends
    pending: _Pending | None = session.info.pop(_KEY, None)
    if pending is None:
        return
    named = pending.user_ids - pending.created_ids
    if not named and not pending.school_id:
        return
    record_event(
        session,
        PEOPLE_CHANGED,
        events_pb2.PeopleChanged(user_ids=sorted(named), whole_school_id=pending.school_id),
        school_id=pending.school_id or None,
    )


def _forget(session: Session, *_args) -> None:
    session.info.pop(_KEY, None)


# Every session of the process: identity's rows exist only in identity's database. Imported by
# services/identity/orm.py, so whatever writes identity's rows records the event.
event.listen(Session, "after_flush", _collect)
event.listen(Session, "before_commit", _record)
event.listen(Session, "after_rollback", _forget)
