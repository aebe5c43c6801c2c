"""Exports the law asks for: the register of a class for a school year as XML (the school's
secretary and principal and the class's homeroom teacher), and everything held about a student
as JSON for their parent, the student themself or the school's secretary (RODO art. 15).

The gateway composes them from the services' reads; each service checks the caller again."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from flask import Response, current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from dziennik.attendance.v1 import attendance_pb2
from dziennik.billing.v1 import billing_pb2
from dziennik.gradebook.v1 import gradebook_pb2
from dziennik.identity.v1 import identity_pb2
from dziennik.notify.v1 import notify_pb2
from gateway.api.schemas import StrictBoolean
from gateway.exports import register, student
from gateway.problems import Problem
from gateway.security import caller, public, require_access

blp = Blueprint("exports", __name__, url_prefix="/api/v1", description="Eksporty: dziennik klasy (XML), dane ucznia (RODO)")

# A whole year of a class is one large read: more time than an ordinary call's deadline.
EXPORT_DEADLINE_SECONDS = 60
REGISTER_ROLES = ("school_admin", "principal", "teacher")
STUDENT_EXPORT_ROLES = ("parent", "student", "school_admin")
_SCHOOL_YEAR = re.compile(r"^(\d{4})/(\d{4})$")


def _backends():
    return current_app.extensions["backends"]


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


# -- the class register -----------------------------------------------------------------------------


class RegisterQuerySchema(Schema):
    # Checked in the view, after who may see the class (API.md: validation comes last).
    school_year = fields.String(metadata={"example": "2026/2027", "description": "The class's school year (the default; a class has only one)."})


@blp.route("/classes/<class_id>/register.xml", methods=["GET"])
@blp.arguments(RegisterQuerySchema, location="query")
@blp.response(
    200, {"type": "string", "format": "binary"}, content_type="application/xml",
    description="The register (format 1.0, namespace urn:dziennik:register:v1), valid against /api/v1/schemas/register-v1.xsd.",
)
def class_register(query, class_id):
    """The register of a class for its school year as XML: the school, the class and its homeroom
    teacher, students, subjects, every grade with its full history (who, when, old and new value)
    and author, term grades, lessons with topics and every student's attendance mark (with
    history), and excuses. For the school's secretary and principal and the class's homeroom
    teacher; 403 for the school's other teachers and for a parent or student of the class, 404
    for a class the caller may not see (another school's, another family's)."""
    who = caller()
    principal = who.principal
    backends = _backends()
    if not principal.has_any_role(*REGISTER_ROLES):
        # The class of one's own child (or one's own) is no secret: 403; any other is not found.
        if class_id in _own_classes(who):
            raise Problem("forbidden", "Dziennik klasy eksportuje sekretariat, dyrektor lub wychowawca klasy.")
        raise Problem("not_found", "Nie ma takiej klasy.")
    roster = backends.identity.GetClassRoster(identity_pb2.GetClassRosterRequest(class_id=class_id), metadata=who.metadata)
    klass = getattr(roster, "class")
    if not principal.has_any_role("school_admin", "principal") and klass.homeroom_teacher_id != principal.user_id:
        raise Problem("forbidden", "Dziennik klasy eksportuje sekretariat, dyrektor lub wychowawca tej klasy.")
    school_year = (query.get("school_year") or klass.school_year).strip()
    if not _SCHOOL_YEAR.match(school_year):
        raise Problem("validation_error", "Niepoprawny rok szkolny.", errors={"school_year": "Rok szkolny w postaci RRRR/RRRR, np. 2026/2027."})
    if school_year != klass.school_year:
        raise Problem("validation_error", "Klasa jest w innym roku szkolnym.", errors={"school_year": f"Klasa {klass.name} to rok szkolny {klass.school_year}."})
    grades = backends.gradebook.ListGradeRecords(
        gradebook_pb2.ListGradeRecordsRequest(class_id=klass.id, school_year=school_year), metadata=who.metadata, timeout=EXPORT_DEADLINE_SECONDS
    )
    attendance = backends.attendance.ListAttendanceRecords(
        attendance_pb2.ListAttendanceRecordsRequest(class_id=klass.id, school_year=school_year), metadata=who.metadata, timeout=EXPORT_DEADLINE_SECONDS
    )
    wanted = register.people_named(roster, grades, attendance, principal.user_id)
    people = backends.identity.ListPeople(identity_pb2.ListPeopleRequest(user_ids=sorted(wanted)), metadata=who.metadata).people
    settings = current_app.extensions["settings"]
    document = register.register_xml(
        roster=roster, grades=grades, attendance=attendance, people=people, exported_by=principal.user_id, exported_at=_now(),
        schema_url=f"{settings.public_url.rstrip('/')}{register.SCHEMA_URL_PATH}",
    )
    return Response(
        document,
        mimetype="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{register.filename(klass.name, school_year)}"', "Cache-Control": "no-store"},
    )


@public
@blp.route("/schemas/register-v1.xsd", methods=["GET"])
@blp.response(200, {"type": "string"}, content_type="application/xml", description="XML Schema 1.0.")
def register_schema():
    """The XML Schema every exported register (format 1.x) is valid against."""
    return Response(register.SCHEMA_PATH.read_bytes(), mimetype="application/xml", headers={"Cache-Control": "public, max-age=86400"})


# -- a student's data (RODO art. 15) -------------------------------------------------------------------


class PersonRefSchema(Schema):
    id = fields.String()
    first_name = fields.String(allow_none=True, metadata={"description": "null: no longer known to the system."})
    last_name = fields.String(allow_none=True)


class ExporterSchema(PersonRefSchema):
    roles = fields.List(fields.String())


class ChangeSchema(Schema):
    action = fields.String(metadata={"description": "Grades: recorded, changed, deleted; term grades: set; marks: marked, changed, excused; excuses: submitted, accepted, rejected."})
    at = fields.String(metadata={"format": "date-time"})
    by = fields.Nested(PersonRefSchema, allow_none=True)
    old = fields.Dict(allow_none=True, metadata={"description": "The fields the change touched, before."})
    new = fields.Dict(allow_none=True, metadata={"description": "…and after."})


class SubjectRefSchema(Schema):
    id = fields.String()
    name = fields.String(allow_none=True)


class ExportedClassSchema(Schema):
    id = fields.String()
    name = fields.String()
    school_year = fields.String()
    homeroom_teacher = fields.Nested(PersonRefSchema, allow_none=True)


class ExportedStudentSchema(Schema):
    id = fields.String()
    login = fields.String()
    first_name = fields.String()
    last_name = fields.String()
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    account_activated = StrictBoolean()
    account_created_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    classes = fields.List(fields.Nested(ExportedClassSchema), metadata={"description": "Every class by school year, oldest first."})


class ParentRefSchema(Schema):
    id = fields.String()
    first_name = fields.String()
    last_name = fields.String()


class AccessHoldingSchema(Schema):
    holder = fields.Nested(PersonRefSchema)
    product = fields.String(metadata={"enum": ["extended_access", "sms_alerts"]})
    valid_until = fields.String(metadata={"format": "date"})


class ExportedCategorySchema(Schema):
    id = fields.String()
    name = fields.String()
    weight = fields.Integer()
    counts_to_average = StrictBoolean()


class ExportedGradeSchema(Schema):
    id = fields.String()
    school_year = fields.String()
    subject = fields.Nested(SubjectRefSchema)
    value = fields.String()
    points = fields.String(allow_none=True)
    max_points = fields.String(allow_none=True)
    category = fields.Nested(ExportedCategorySchema, allow_none=True)
    date = fields.String(metadata={"format": "date"})
    semester = fields.Integer()
    teacher = fields.Nested(PersonRefSchema)
    comment = fields.String(allow_none=True)
    improves_grade_id = fields.String(allow_none=True)
    version = fields.Integer()
    recorded_at = fields.String(metadata={"format": "date-time"})
    deleted_at = fields.String(allow_none=True, metadata={"format": "date-time", "description": "A deleted grade stays, with its history."})
    history = fields.List(fields.Nested(ChangeSchema))


class ExportedTermGradeSchema(Schema):
    id = fields.String()
    school_year = fields.String()
    subject = fields.Nested(SubjectRefSchema)
    kind = fields.String(metadata={"enum": ["semester_proposed", "semester_final", "annual_proposed", "annual_final"]})
    value = fields.String()
    teacher = fields.Nested(PersonRefSchema)
    set_at = fields.String(metadata={"format": "date-time"})
    history = fields.List(fields.Nested(ChangeSchema))


class ExportedMarkSchema(Schema):
    lesson_id = fields.String()
    date = fields.String(metadata={"format": "date"})
    lesson_no = fields.Integer()
    starts = fields.String(allow_none=True)
    ends = fields.String(allow_none=True)
    subject = fields.Nested(SubjectRefSchema)
    teacher = fields.Nested(PersonRefSchema)
    substitute_teacher = fields.Nested(PersonRefSchema, allow_none=True)
    topic = fields.String(allow_none=True)
    cancelled = StrictBoolean()
    status = fields.String()
    status_counts_as = fields.String(metadata={"description": "The standard status a school's own type counts as."})
    marked_by = fields.Nested(PersonRefSchema)
    marked_at = fields.String(metadata={"format": "date-time"})
    history = fields.List(fields.Nested(ChangeSchema))


class ExportedTypeSchema(Schema):
    code = fields.String()
    name = fields.String()
    counts_as = fields.String()


class ExportedExcuseSchema(Schema):
    id = fields.String()
    status = fields.String(metadata={"enum": ["pending", "accepted", "rejected"]})
    reason = fields.String()
    lesson_ids = fields.List(fields.String())
    submitted_by = fields.Nested(PersonRefSchema)
    submitted_at = fields.String(metadata={"format": "date-time"})
    decided_by = fields.Nested(PersonRefSchema, allow_none=True)
    decided_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    history = fields.List(fields.Nested(ChangeSchema))


class ExportedQuietHoursSchema(Schema):
    from_ = fields.String(attribute="from", data_key="from")
    to = fields.String()


class ExportedSettingsSchema(Schema):
    sms_enabled = StrictBoolean()
    phone = fields.String(allow_none=True)
    events = fields.List(fields.String())
    quiet_hours = fields.Nested(ExportedQuietHoursSchema, allow_none=True)


class ExportedMoneySchema(Schema):
    amount = fields.Integer(metadata={"description": "grosze"})
    currency = fields.String()


class ExportedOrderSchema(Schema):
    id = fields.String()
    transaction_number = fields.String()
    product = fields.String()
    status = fields.String()
    amount = fields.Nested(ExportedMoneySchema)
    channel = fields.String()
    parent = fields.Nested(PersonRefSchema, allow_none=True)
    created_at = fields.String()
    paid_at = fields.String(allow_none=True)


class NotIncludedSchema(Schema):
    data = fields.String()
    reason = fields.String()


class SchoolRefSchema(Schema):
    id = fields.String()
    name = fields.String()


class StudentExportSchema(Schema):
    format = fields.String(metadata={"example": student.FORMAT})
    version = fields.String(metadata={"example": student.VERSION})
    legal_basis = fields.String()
    generated_at = fields.String(metadata={"format": "date-time"})
    generated_by = fields.Nested(ExporterSchema)
    school = fields.Nested(SchoolRefSchema, allow_none=True)
    student = fields.Nested(ExportedStudentSchema)
    parents = fields.List(fields.Nested(ParentRefSchema))
    access = fields.List(fields.Nested(AccessHoldingSchema), metadata={"description": "Extended access and add-ons: the student's own and the caller's (every holder's for the secretary)."})
    grades = fields.List(fields.Nested(ExportedGradeSchema), metadata={"description": "Every grade of every school year, deleted ones too, each with its history."})
    term_grades = fields.List(fields.Nested(ExportedTermGradeSchema))
    attendance = fields.List(fields.Nested(ExportedMarkSchema), metadata={"description": "Every lesson mark of the student, with its history."})
    attendance_types = fields.List(fields.Nested(ExportedTypeSchema))
    excuses = fields.List(fields.Nested(ExportedExcuseSchema))
    notification_settings = fields.Nested(ExportedSettingsSchema, allow_none=True, metadata={"description": "The caller's own (a parent's or the student's); null for the secretary."})
    orders = fields.List(fields.Nested(ExportedOrderSchema), allow_none=True, metadata={"description": "The family's orders for this child (a parent: their own); null for the student."})
    not_included = fields.List(fields.Nested(NotIncludedSchema), metadata={"description": "What the export leaves out on purpose, and where it is."})


@blp.route("/students/<student_id>/export", methods=["GET"])
@blp.response(200, StudentExportSchema)
def student_data(student_id):
    """Everything the system holds about a student that their parent may see (RODO art. 15):
    identity data (names, login, classes, linked parents, access bought; never passwords or
    secrets), every grade and term grade with its full history, every attendance mark with its
    history, excuses, the caller's notification settings and the family's orders for the child.
    Messages are not included (see `not_included`). For the student's parents, the student and
    the school's secretary; free, whatever the school's access policy; 404 for another family's
    child or another school's student, 403 for the school's teachers and principal."""
    who = caller()
    principal = who.principal
    backends = _backends()
    if not principal.has_any_role(*STUDENT_EXPORT_ROLES):
        require_access(student_id, "grades")  # 404 for a student the caller may not see at all
        raise Problem("forbidden", "Dane ucznia eksportuje jego rodzic, sam uczeń lub sekretariat szkoły.")
    record = backends.identity.GetStudentRecord(identity_pb2.GetStudentRecordRequest(student_id=student_id), metadata=who.metadata)
    grades = backends.gradebook.ListGradeRecords(gradebook_pb2.ListGradeRecordsRequest(student_id=record.student_id), metadata=who.metadata, timeout=EXPORT_DEADLINE_SECONDS)
    attendance = backends.attendance.ListAttendanceRecords(
        attendance_pb2.ListAttendanceRecordsRequest(student_id=record.student_id), metadata=who.metadata, timeout=EXPORT_DEADLINE_SECONDS
    )
    me = backends.identity.GetMe(identity_pb2.GetMeRequest(), metadata=who.metadata)
    exported_by = identity_pb2.DirectoryPerson(id=me.id, first_name=me.first_name, last_name=me.last_name, roles=me.roles)
    settings = backends.notify.GetSettings(notify_pb2.GetSettingsRequest(), metadata=who.metadata) if principal.has_any_role("parent", "student") else None
    orders = None
    if principal.has_any_role("parent", "school_admin"):
        orders = list(backends.billing.ListOrders(billing_pb2.ListOrdersRequest(), metadata=who.metadata).orders)
    wanted = _people_named(record, grades, attendance, orders or [])
    people = backends.identity.ListPeople(identity_pb2.ListPeopleRequest(user_ids=sorted(wanted)), metadata=who.metadata).people if wanted else []
    document = student.student_export(
        record=record, grades=grades, attendance=attendance, people=list(people), exported_by=exported_by, exported_at=_now(),
        notification_settings=settings, orders=orders,
    )
    return document, 200, {"Content-Disposition": f'attachment; filename="{student.filename(record.login)}"', "Cache-Control": "no-store"}


def _own_classes(who) -> set[str]:
    """The classes of the caller's children, and a student's own."""
    identity = _backends().identity
    me = identity.GetMe(identity_pb2.GetMeRequest(), metadata=who.metadata)
    classes = {c.class_id for c in me.children}
    if "student" in who.principal.roles:
        classes.add(identity.GetAuthorizationFacts(identity_pb2.GetAuthorizationFactsRequest(user_id=me.id), metadata=who.metadata).class_id)
    return classes - {""}


def _people_named(record, grades, attendance, orders) -> set[str]:
    """The staff (and anyone else) the student's records name, to ask identity for their names."""
    ids = {k.homeroom_teacher_id for k in record.classes} | {o.parent_id for o in orders}
    for r in grades.grades:
        ids |= {r.grade.teacher_id} | {h.actor_id for h in r.history}
    for t in grades.term_grades:
        ids |= {t.teacher_id} | {h.actor_id for h in t.history}
    for l in attendance.lessons:
        ids |= {l.lesson.teacher_id, l.lesson.substitute_teacher_id}
        for m in l.marks:
            ids |= {m.marked_by} | {h.actor_id for h in m.history}
    for e in attendance.excuses:
        ids |= {e.excuse.submitted_by, e.excuse.decided_by} | {h.actor_id for h in e.history}
    known = {record.student_id} | {p.id for p in record.parents}
    return ids - known - {""}
