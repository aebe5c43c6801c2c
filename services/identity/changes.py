"""PeopleChanged: one event per transaction that changes what other services keep copies of.

The gateway keeps identity's "yes" to access checks and gradebook keeps students' and teachers'
facts (platform_kit/cache.py); both drop their copies about the people an event names, so those
copies can live for minutes instead of seconds. Which rows matter is said here, once, and a
session listener records the event for every transaction that touches them: a use case written
tomorrow cannot forget it. The event is written to the outbox by the flush that wrote the change,
in its transaction (nothing is published for a change that rolled back); a transaction flushing
twice may record two events.

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


class _Created:
    """The people created so far in one transaction (a transaction may flush several times)."""

    __slots__ = ("transaction", "ids")

    def __init__(self, transaction) -> None:
        self.transaction = transaction
        self.ids: set[str] = set()


def _created_in(session: Session) -> set[str]:
    transaction = session.get_transaction()
    created: _Created | None = session.info.get(_KEY)
    if created is None or created.transaction is not transaction:
        created = session.info[_KEY] = _Created(transaction)
    return created.ids


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
    """After each flush of identity's rows, in its transaction: the event for what it changed."""
    named: set[str] = set()
    created: set[str] = set()
    school_id = ""
    for rows, new in ((session.new, True), (session.dirty, False), (session.deleted, False)):
        for row in rows:
            kind = type(row)
            if kind is User:
                if new:
                    created.add(row.id)
                elif _changed(row, _COPIED_USER_COLUMNS):
                    named.add(row.id)
            elif kind is School:
                if not new and _changed(row, _SCHOOL_WIDE_COLUMNS):
                    school_id = row.id
            elif kind in _PEOPLE_COLUMNS:
                columns = _PEOPLE_COLUMNS[kind]
                if new or row in session.deleted or _changed(row, columns + _VALUE_COLUMNS.get(kind, ())):
                    named |= _named(row, columns)
    if not (named or created or school_id):
        return
    earlier = _created_in(session)
    earlier |= created
    named -= earlier
    if named or school_id:
        record_event(
            session,
            PEOPLE_CHANGED,
            events_pb2.PeopleChanged(user_ids=sorted(named), whole_school_id=school_id),
            school_id=school_id or None,
        )


# Every session of the process: identity's rows exist only in identity's database. Imported by
# services/identity/orm.py, so whatever writes identity's rows records the event. Only flushes
# listen: a transaction of plain statements (a token refresh, a sign-in's counters) pays nothing.
event.listen(Session, "after_flush", _collect)
