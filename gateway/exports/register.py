"""The register of a class for a school year as XML (format 1.0, namespace urn:dziennik:register:v1,
schema register.xsd beside this file): built from identity's roster and names, gradebook's grade
records and attendance's lesson records, so that it can be read in 50 years without the system —
people and subjects by name, every change with who and when, dates in ISO 8601."""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from google.protobuf.timestamp_pb2 import Timestamp

from dziennik.attendance.v1 import attendance_pb2
from dziennik.gradebook.v1 import gradebook_pb2
from dziennik.identity.v1 import identity_pb2

NAMESPACE = "urn:dziennik:register:v1"
VERSION = "1.0"
SCHEMA_PATH = Path(__file__).with_name("register.xsd")
SCHEMA_URL_PATH = "/api/v1/schemas/register-v1.xsd"
SOFTWARE = "Dziennik (otwarty dziennik elektroniczny)"
DESCRIPTION = (
    "Dziennik lekcyjny klasy za rok szkolny: uczniowie, przedmioty, oceny bieżące z pełną historią zmian, "
    "oceny śródroczne i roczne, lekcje z tematami, frekwencja i usprawiedliwienia."
)

STANDARD_STATUSES = {
    "present": "obecny (ob)",
    "absent": "nieobecny (nb)",
    "late": "spóźniony (sp)",
    "excused": "nieobecność usprawiedliwiona (u)",
    "released": "zwolniony (zw)",
    "school_absence": "nieobecny z przyczyn szkolnych (ns)",
}
TERM_GRADE_KINDS = {
    "semester_proposed": "przewidywana ocena śródroczna",
    "semester_final": "śródroczna ocena klasyfikacyjna",
    "annual_proposed": "przewidywana ocena roczna",
    "annual_final": "roczna ocena klasyfikacyjna",
}

# Characters XML 1.0 cannot carry at all (a pasted comment might hold one).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def register_xml(
    *,
    roster: identity_pb2.GetClassRosterResponse,
    grades: gradebook_pb2.ListGradeRecordsResponse,
    attendance: attendance_pb2.ListAttendanceRecordsResponse,
    people: Iterable[identity_pb2.DirectoryPerson],
    exported_by: str,
    exported_at: datetime,
    schema_url: str = "",
) -> bytes:
    """The document, UTF-8 with an XML declaration. Every id it refers to is defined in it: people
    identity no longer knows appear with known="false", subjects only lessons name get the
    lesson's subject name, unknown attendance codes an entry of their own."""
    klass = getattr(roster, "class")
    named = {p.id: p for p in people}
    root = ET.Element("register", {"xmlns": NAMESPACE, "version": VERSION})
    if schema_url:
        root.set("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance")
        root.set("xsi:schemaLocation", f"{NAMESPACE} {schema_url}")
    root.append(ET.Comment(" Dziennik lekcyjny klasy (format 1.0, schemat: register.xsd, przestrzeń nazw urn:dziennik:register:v1) "))

    export = _sub(root, "export")
    _sub(export, "generated-at", text=iso_moment(exported_at))
    _sub(export, "generated-by", person=exported_by)
    _sub(export, "software", text=SOFTWARE)
    _sub(export, "description", text=DESCRIPTION)

    school = _sub(root, "school", id=klass.school_id)
    _sub(school, "name", text=roster.school_name)
    class_element = _sub(root, "class", {"id": klass.id, "school-year": grades.school_year or klass.school_year})
    _sub(class_element, "name", text=klass.name)
    if klass.homeroom_teacher_id:
        _sub(class_element, "homeroom-teacher", person=klass.homeroom_teacher_id)

    # -- who is who: the class list first, then everyone else the records name --------------------------
    enrolled = [s.id for s in roster.students]
    named_students = {s.id: s for s in roster.students}
    record_students, others = _mentions(grades, attendance)
    mentioned_students = [i for i in dict.fromkeys(record_students) if i not in named_students]
    students = _sub(root, "students")
    for number, student_id in enumerate(enrolled, start=1):
        student = named_students[student_id]
        element = _sub(students, "student", id=student_id, number=str(number), enrolled="true")
        _names(element, student.first_name, student.last_name)
    mentioned_students.sort(key=lambda i: _sort_name(named.get(i), i))
    for student_id in mentioned_students:
        element = _sub(students, "student", id=student_id, enrolled="false")
        person = named.get(student_id)
        if person is not None:
            _names(element, person.first_name, person.last_name)

    student_ids = set(enrolled) | set(mentioned_students)
    others += [exported_by, klass.homeroom_teacher_id]
    people_element = _sub(root, "people")
    for person_id in sorted({i for i in others if i} - student_ids, key=lambda i: _sort_name(named.get(i), i)):
        person = named.get(person_id)
        roles = " ".join(identity_pb2.Role.Name(r).removeprefix("ROLE_").lower() for r in person.roles) if person else ""
        element = _sub(people_element, "person", id=person_id, roles=roles, known="true" if person else "false")
        if person is not None:
            _names(element, person.first_name, person.last_name)

    # -- dictionaries ------------------------------------------------------------------------------------
    subjects_element = _sub(root, "subjects")
    subjects = {s.id: (s.name, s.short_name) for s in grades.subjects}
    for lesson in attendance.lessons:
        subjects.setdefault(lesson.lesson.subject_id, (lesson.subject_name or lesson.lesson.subject_id, ""))
    for record in grades.grades:  # a subject the school removed since: its id stands for its name
        subjects.setdefault(record.grade.subject_id, (record.grade.subject_id, ""))
    for term in grades.term_grades:
        subjects.setdefault(term.subject_id, (term.subject_id, ""))
    for subject_id, (name, short_name) in sorted(subjects.items(), key=lambda item: (item[1][0].lower(), item[0])):
        element = _sub(subjects_element, "subject", id=subject_id)
        _sub(element, "name", text=name)
        if short_name:
            _sub(element, "short-name", text=short_name)

    categories_element = _sub(root, "grade-categories")
    categories = {c.id: (c.name, c.weight, c.counts_to_average) for c in grades.categories}
    for record in grades.grades:
        g = record.grade
        if g.category_id:
            categories.setdefault(g.category_id, (g.category_name or g.category_id, g.weight, g.counts_to_average))
    for category_id, (name, weight, counts) in sorted(categories.items(), key=lambda item: (item[1][0].lower(), item[0])):
        element = _sub(categories_element, "category", {"id": category_id, "weight": str(weight), "counts-to-average": _bool(counts)})
        _sub(element, "name", text=name)

    kinds = _sub(root, "term-grade-kinds")
    for code, name in TERM_GRADE_KINDS.items():
        _sub(_sub(kinds, "kind", code=code), "name", text=name)

    statuses_element = _sub(root, "attendance-statuses")
    statuses: dict[str, tuple[str, str | None, bool]] = {code: (name, code, False) for code, name in STANDARD_STATUSES.items()}
    for kind in attendance.types:
        statuses[kind.code] = (kind.name, kind.counts_as if kind.counts_as in STANDARD_STATUSES else None, True)
    for lesson in attendance.lessons:
        for mark in lesson.marks:
            statuses.setdefault(mark.status, (mark.status, None, True))  # a type the school has since removed
    for code, (name, counts_as, own) in statuses.items():
        attributes = {"code": code, "school-defined": _bool(own)}
        if counts_as:
            attributes["counts-as"] = counts_as
        _sub(_sub(statuses_element, "status", attributes), "name", text=name)

    # -- grades ------------------------------------------------------------------------------------------
    order = {student_id: index for index, student_id in enumerate(enrolled + mentioned_students)}
    subject_order = {subject_id: (name.lower(), subject_id) for subject_id, (name, _) in subjects.items()}
    grades_element = _sub(root, "grades")
    for record in sorted(
        grades.grades, key=lambda r: (order.get(r.grade.student_id, len(order)), subject_order[r.grade.subject_id], r.grade.date, iso_moment(r.grade.recorded_at))
    ):
        g = record.grade
        attributes = {"id": g.id, "student": g.student_id, "subject": g.subject_id, "teacher": g.teacher_id}
        if g.category_id:
            attributes["category"] = g.category_id
        attributes.update(date=g.date, semester=str(g.semester or 1), version=str(max(g.version, 1)), deleted=_bool(record.HasField("deleted_at")))
        element = _sub(grades_element, "grade", attributes)
        _sub(element, "value", text=g.value)
        if g.points:
            _sub(element, "points", text=g.points)
            _sub(element, "max-points", text=g.max_points)
        _sub(element, "weight", text=str(g.weight))
        _sub(element, "counts-to-average", text=_bool(g.counts_to_average))
        if g.comment:
            _sub(element, "comment", text=g.comment)
        if g.improves_grade_id:
            _sub(element, "improves", grade=g.improves_grade_id)
        _sub(element, "recorded-at", text=iso_moment(g.recorded_at))
        if record.HasField("deleted_at"):
            _sub(element, "deleted-at", text=iso_moment(record.deleted_at))
        _history(element, record.history)

    terms_element = _sub(root, "term-grades")
    kind_order = list(TERM_GRADE_KINDS)
    for term in sorted(
        grades.term_grades,
        key=lambda t: (order.get(t.student_id, len(order)), subject_order[t.subject_id], kind_order.index(t.kind) if t.kind in kind_order else 9),
    ):
        element = _sub(terms_element, "term-grade", id=term.id, student=term.student_id, subject=term.subject_id, kind=term.kind, teacher=term.teacher_id)
        _sub(element, "value", text=term.value)
        _sub(element, "set-at", text=iso_moment(term.set_at))
        _history(element, term.history)

    # -- lessons, marks, excuses ---------------------------------------------------------------------------
    lessons_element = _sub(root, "lessons")
    for record in sorted(attendance.lessons, key=lambda r: (r.lesson.date, r.lesson.lesson_no, r.lesson.id)):
        lesson = record.lesson
        attributes = {"id": lesson.id, "date": lesson.date, "number": str(lesson.lesson_no)}
        if lesson.starts and lesson.ends:
            attributes.update(starts=_time(lesson.starts), ends=_time(lesson.ends))
        attributes.update(subject=lesson.subject_id, teacher=lesson.teacher_id)
        if lesson.substitute_teacher_id:
            attributes["substitute"] = lesson.substitute_teacher_id
        attributes["cancelled"] = _bool(lesson.cancelled)
        element = _sub(lessons_element, "lesson", attributes)
        if lesson.topic:
            _sub(element, "topic", text=lesson.topic)
        if lesson.room:
            _sub(element, "room", text=lesson.room)
        for mark in sorted(record.marks, key=lambda m: (order.get(m.student_id, len(order)), m.student_id)):
            mark_element = _sub(element, "mark", {"student": mark.student_id, "status": mark.status, "marked-by": mark.marked_by, "marked-at": iso_moment(mark.marked_at)})
            _history(mark_element, mark.history)

    excuses_element = _sub(root, "excuses")
    for record in attendance.excuses:
        excuse = record.excuse
        attributes = {"id": excuse.id, "student": excuse.student_id, "status": excuse.status, "submitted-by": excuse.submitted_by, "submitted-at": iso_moment(excuse.submitted_at)}
        if excuse.decided_by:
            attributes.update({"decided-by": excuse.decided_by, "decided-at": iso_moment(excuse.decided_at)})
        element = _sub(excuses_element, "excuse", attributes)
        _sub(element, "reason", text=excuse.reason)
        for lesson_id in excuse.lesson_ids:
            _sub(element, "lesson", ref=lesson_id)
        _history(element, record.history)

    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"


def people_named(roster: identity_pb2.GetClassRosterResponse, grades, attendance, exported_by: str) -> set[str]:
    """Everyone the document will name (ask identity for their names before building it)."""
    students, others = _mentions(grades, attendance)
    return ({s.id for s in roster.students} | set(students) | set(others) | {exported_by, getattr(roster, "class").homeroom_teacher_id}) - {""}


def filename(class_name: str, school_year: str) -> str:
    """`dziennik-1A-2026-2027.xml`, ASCII only (a Content-Disposition filename)."""
    safe = re.sub(r"[^A-Za-z0-9]+", "-", f"{class_name}-{school_year}").strip("-") or "klasa"
    return f"dziennik-{safe}.xml"


# -- helpers -----------------------------------------------------------------------------------------


def _sub(parent: ET.Element, tag: str, attributes: dict[str, str] | None = None, *, text: str | None = None, **more: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: _clean(v) for k, v in {**(attributes or {}), **more}.items()})
    if text is not None:
        element.text = _clean(text)
    return element


def _names(element: ET.Element, first_name: str, last_name: str) -> None:
    _sub(element, "first-name", text=first_name)
    _sub(element, "last-name", text=last_name)


def _history(parent: ET.Element, entries) -> None:
    """<history> with a <change> per entry: each field it touched with its old and new value."""
    history = _sub(parent, "history")
    for entry in entries:
        change = _sub(history, "change", action=entry.action, at=iso_moment(entry.at), by=_actor(entry))
        old = json.loads(entry.old_json) if entry.old_json else {}
        new = json.loads(entry.new_json) if entry.new_json else {}
        for name in list(old) + [n for n in new if n not in old]:
            values = {"old": _value(old.get(name)), "new": _value(new.get(name))}
            if all(v in (None, "") for v in values.values()):
                continue  # empty before and after (no category, no comment): nothing to tell
            field = _sub(change, "field", name=name)
            for tag, value in values.items():
                if value is not None:
                    _sub(field, tag, text=value)


def _mentions(grades: gradebook_pb2.ListGradeRecordsResponse, attendance: attendance_pb2.ListAttendanceRecordsResponse) -> tuple[list[str], list[str]]:
    """(students, everyone else) the records name, in the order they come; ids may repeat."""
    students = [g.grade.student_id for g in grades.grades] + [t.student_id for t in grades.term_grades]
    students += [m.student_id for l in attendance.lessons for m in l.marks] + [e.excuse.student_id for e in attendance.excuses]
    others = [g.grade.teacher_id for g in grades.grades] + [_actor(h) for g in grades.grades for h in g.history]
    others += [t.teacher_id for t in grades.term_grades] + [_actor(h) for t in grades.term_grades for h in t.history]
    for lesson in attendance.lessons:
        others += [lesson.lesson.teacher_id, lesson.lesson.substitute_teacher_id]
        others += [m.marked_by for m in lesson.marks] + [_actor(h) for m in lesson.marks for h in m.history]
    for excuse in attendance.excuses:
        others += [excuse.excuse.submitted_by, excuse.excuse.decided_by] + [_actor(h) for h in excuse.history]
    return [i for i in students if i], [i for i in others if i]


def _actor(entry) -> str:
    return entry.actor_id or "unknown"


def _value(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return _bool(value)
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def iso_moment(value) -> str:
    """ISO 8601 with offset from a protobuf Timestamp, a datetime or the ISO text a service sent."""
    if isinstance(value, Timestamp):
        value = value.ToDatetime(tzinfo=timezone.utc)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()
    if value and re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?", value):
        return value + "+00:00"  # a service on SQLite keeps UTC without saying so
    return value


def _time(hours: str) -> str:
    return f"{hours}:00" if re.fullmatch(r"\d{2}:\d{2}", hours) else hours


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _sort_name(person, person_id: str) -> tuple[str, str, str]:
    if person is None:
        return ("\uffff", "", person_id)
    return (person.last_name.lower(), person.first_name.lower(), person_id)
