"""Everything the system holds about a student that their parent may see, as one JSON document
(RODO art. 15, the right of access): identity's record, grades and term grades with every change,
attendance with its history, excuses, the caller's notification settings and the family's orders
for the child. Built from the services' answers; people are named, not only given by id."""
from __future__ import annotations

import json
from datetime import datetime

from dziennik.attendance.v1 import attendance_pb2
from dziennik.billing.v1 import billing_pb2
from dziennik.gradebook.v1 import gradebook_pb2
from dziennik.identity.v1 import identity_pb2
from dziennik.notify.v1 import notify_pb2
from gateway.exports.register import iso_moment

FORMAT = "dziennik.student-data"
VERSION = "1.0"
LEGAL_BASIS = "RODO (GDPR) art. 15: prawo dostępu do danych osobowych"

# What the export leaves out on purpose, and where it is (docs: README, "Exports").
NOT_INCLUDED = [
    {
        "data": "messages",
        "reason": "Wiadomości, których stroną jest rodzic lub uczeń, nie są częścią tego eksportu; każdy widzi swoje w GET /api/v1/messages.",
    },
    {
        "data": "audit_trail",
        "reason": "Dziennik odczytów i zmian (kto i kiedy przeglądał dane) udostępnia sekretariat szkoły na wniosek.",
    },
    {
        "data": "sms_log",
        "reason": "Wysłane SMS-y są w rejestrze SMS szkoły; sekretariat udostępnia je na wniosek.",
    },
]


def student_export(
    *,
    record: identity_pb2.GetStudentRecordResponse,
    grades: gradebook_pb2.ListGradeRecordsResponse,
    attendance: attendance_pb2.ListAttendanceRecordsResponse,
    people: list[identity_pb2.DirectoryPerson],
    exported_by: identity_pb2.DirectoryPerson,
    exported_at: datetime,
    notification_settings: notify_pb2.Settings | None,
    orders: list[billing_pb2.Order] | None,
) -> dict:
    """The document. `notification_settings` are the caller's own (a parent's or the student's;
    None for the school's secretary), `orders` the family's for this child (None for the student,
    who orders nothing)."""
    names = {p.id: p for p in people}
    for person in list(record.parents) + [exported_by]:
        names.setdefault(person.id, person)
    names.setdefault(record.student_id, identity_pb2.DirectoryPerson(id=record.student_id, first_name=record.first_name, last_name=record.last_name))

    def who(person_id: str) -> dict | None:
        if not person_id:
            return None
        person = names.get(person_id)
        return {"id": person_id, "first_name": person.first_name if person else None, "last_name": person.last_name if person else None}

    subjects = {s.id: s.name for s in grades.subjects}
    for lesson in attendance.lessons:
        subjects.setdefault(lesson.lesson.subject_id, lesson.subject_name)
    categories = {c.id: c for c in grades.categories}
    types = {t.code: t for t in attendance.types}

    def subject(subject_id: str) -> dict:
        return {"id": subject_id, "name": subjects.get(subject_id)}

    def history(entries) -> list[dict]:
        return [
            {
                "action": e.action,
                "at": iso_moment(e.at),
                "by": who(e.actor_id),
                "old": json.loads(e.old_json) if e.old_json else None,
                "new": json.loads(e.new_json) if e.new_json else None,
            }
            for e in entries
        ]

    def category(grade) -> dict | None:
        if not grade.category_id:
            return None
        known = categories.get(grade.category_id)
        return {
            "id": grade.category_id,
            "name": known.name if known else grade.category_name,
            "weight": grade.weight,
            "counts_to_average": grade.counts_to_average,
        }

    return {
        "format": FORMAT,
        "version": VERSION,
        "legal_basis": LEGAL_BASIS,
        "generated_at": iso_moment(exported_at),
        "generated_by": {**who(exported_by.id), "roles": [_role(r) for r in exported_by.roles]},
        "school": {"id": record.school.id, "name": record.school.name} if record.HasField("school") else None,
        "student": {
            "id": record.student_id,
            "login": record.login,
            "first_name": record.first_name,
            "last_name": record.last_name,
            "email": record.email or None,
            "phone": record.phone or None,
            "account_activated": record.activated,
            "account_created_at": record.created_at or None,
            "classes": [
                {"id": k.id, "name": k.name, "school_year": k.school_year, "homeroom_teacher": who(k.homeroom_teacher_id)} for k in record.classes
            ],
        },
        "parents": [{"id": p.id, "first_name": p.first_name, "last_name": p.last_name} for p in record.parents],
        "access": [{"holder": who(a.holder_id), "product": a.product, "valid_until": a.valid_until} for a in record.access],
        "grades": [
            {
                "id": r.grade.id,
                "school_year": r.grade.school_year,
                "subject": subject(r.grade.subject_id),
                "value": r.grade.value,
                "points": r.grade.points or None,
                "max_points": r.grade.max_points or None,
                "category": category(r.grade),
                "date": r.grade.date,
                "semester": r.grade.semester,
                "teacher": who(r.grade.teacher_id),
                "comment": r.grade.comment or None,
                "improves_grade_id": r.grade.improves_grade_id or None,
                "version": r.grade.version,
                "recorded_at": iso_moment(r.grade.recorded_at),
                "deleted_at": iso_moment(r.deleted_at) if r.HasField("deleted_at") else None,
                "history": history(r.history),
            }
            for r in grades.grades
            if r.grade.student_id == record.student_id  # never another student's, whatever a service sends
        ],
        "term_grades": [
            {
                "id": t.id,
                "school_year": t.school_year,
                "subject": subject(t.subject_id),
                "kind": t.kind,
                "value": t.value,
                "teacher": who(t.teacher_id),
                "set_at": iso_moment(t.set_at),
                "history": history(t.history),
            }
            for t in grades.term_grades
            if t.student_id == record.student_id
        ],
        "attendance": [
            {
                "lesson_id": l.lesson.id,
                "date": l.lesson.date,
                "lesson_no": l.lesson.lesson_no,
                "starts": l.lesson.starts or None,
                "ends": l.lesson.ends or None,
                "subject": subject(l.lesson.subject_id),
                "teacher": who(l.lesson.teacher_id),
                "substitute_teacher": who(l.lesson.substitute_teacher_id),
                "topic": l.lesson.topic or None,
                "cancelled": l.lesson.cancelled,
                "status": m.status,
                "status_counts_as": types[m.status].counts_as if m.status in types else m.status,
                "marked_by": who(m.marked_by),
                "marked_at": iso_moment(m.marked_at),
                "history": history(m.history),
            }
            for l in attendance.lessons
            for m in l.marks
            if m.student_id == record.student_id
        ],
        "attendance_types": [{"code": t.code, "name": t.name, "counts_as": t.counts_as} for t in attendance.types],
        "excuses": [
            {
                "id": e.excuse.id,
                "status": e.excuse.status,
                "reason": e.excuse.reason,
                "lesson_ids": list(e.excuse.lesson_ids),
                "submitted_by": who(e.excuse.submitted_by),
                "submitted_at": iso_moment(e.excuse.submitted_at),
                "decided_by": who(e.excuse.decided_by),
                "decided_at": iso_moment(e.excuse.decided_at) or None,
                "history": history(e.history),
            }
            for e in attendance.excuses
            if e.excuse.student_id == record.student_id
        ],
        "notification_settings": _settings(notification_settings) if notification_settings is not None else None,
        "orders": [_order(o, who) for o in orders if o.student_id == record.student_id] if orders is not None else None,
        "not_included": NOT_INCLUDED,
    }


def filename(login: str) -> str:
    safe = "".join(c if c.isascii() and (c.isalnum() or c in ".-") else "-" for c in login).strip("-.") or "uczen"
    return f"dane-{safe}.json"


def _settings(settings: notify_pb2.Settings) -> dict:
    quiet = {"from": settings.quiet_from, "to": settings.quiet_to} if settings.quiet_from else None
    return {"sms_enabled": settings.sms_enabled, "phone": settings.phone or None, "events": list(settings.events), "quiet_hours": quiet}


def _order(order: billing_pb2.Order, who) -> dict:
    return {
        "id": order.id,
        "transaction_number": order.transaction_number,
        "product": order.product,
        "status": order.status,
        "amount": {"amount": order.amount, "currency": order.currency},
        "channel": order.channel,
        "parent": who(order.parent_id),
        "created_at": order.created_at,
        "paid_at": order.paid_at or None,
    }


def _role(value: int) -> str:
    return identity_pb2.Role.Name(value).removeprefix("ROLE_").lower()
