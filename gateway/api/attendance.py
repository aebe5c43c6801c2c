"""Attendance: timetables and lessons, marking, a student's attendance and its statistics,
excuses, the school's attendance settings and types, and the meeting report."""
from __future__ import annotations

from flask import Response, current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate


from dziennik.attendance.v1 import attendance_pb2 as pb
from gateway.api.schemas import StrictBoolean
from gateway.security import caller, require_access

blp = Blueprint("attendance", __name__, url_prefix="/api/v1", description="Frekwencja")

_ID = validate.Length(min=1, max=64)
STATUS_HELP = "present, absent, late, excused, released, school_absence or a school's own type"


def _attendance():
    return current_app.extensions["backends"].attendance


def _percent(text: str) -> float | None:
    return float(text) if text else None


def _summary(summary) -> dict:
    return {"percent_present": _percent(summary.percent_present), "counts": {c.status: c.count for c in summary.counts}}


class LessonSchema(Schema):
    id = fields.String()
    class_id = fields.String()
    subject_id = fields.String()
    teacher_id = fields.String()
    date = fields.String(metadata={"format": "date"})
    lesson_no = fields.Integer()
    starts = fields.String(metadata={"example": "08:00"})
    ends = fields.String(metadata={"example": "08:45"})
    topic = fields.String()
    room = fields.String()
    substitute_teacher_id = fields.String(allow_none=True)
    cancelled = StrictBoolean()


def _lesson(lesson) -> dict:
    return {
        "id": lesson.id, "class_id": lesson.class_id, "subject_id": lesson.subject_id, "teacher_id": lesson.teacher_id, "date": lesson.date,
        "lesson_no": lesson.lesson_no, "starts": lesson.starts, "ends": lesson.ends, "topic": lesson.topic, "room": lesson.room,
        "substitute_teacher_id": lesson.substitute_teacher_id or None, "cancelled": lesson.cancelled,
    }


# -- timetable and lessons --------------------------------------------------------------------------


class SlotSchema(Schema):
    weekday = fields.Integer(required=True, validate=validate.Range(min=1, max=7), metadata={"description": "1 = Monday"})
    lesson_no = fields.Integer(required=True, validate=validate.Range(min=1, max=14))
    subject_id = fields.String(required=True, validate=_ID)
    teacher_id = fields.String(required=True, validate=_ID)
    room = fields.String(validate=validate.Length(max=20))


class TimetableSchema(Schema):
    school_year = fields.String(required=True, validate=validate.Regexp(r"^\d{4}/\d{4}$"))
    valid_from = fields.Date(metadata={"description": "Lessons from this day on follow the new timetable (default today)."})
    entries = fields.List(fields.Nested(SlotSchema), required=True, validate=validate.Length(max=100))


class WeekQuerySchema(Schema):
    day = fields.Date(metadata={"description": "Any day of the week wanted; default this week."})


class WeekSchema(Schema):
    monday = fields.String(metadata={"format": "date"})
    lessons = fields.List(fields.Nested(LessonSchema))


class NewLessonSchema(Schema):
    class_id = fields.String(required=True, validate=_ID)
    subject_id = fields.String(required=True, validate=_ID)
    date = fields.Date(required=True)
    lesson_no = fields.Integer(required=True, validate=validate.Range(min=1, max=14))
    topic = fields.String(validate=validate.Length(max=500))


class LessonChangeSchema(Schema):
    topic = fields.String(validate=validate.Length(max=500))
    substitute_teacher_id = fields.String(allow_none=True, validate=validate.Length(max=64))
    cancelled = StrictBoolean()


class MarkSchema(Schema):
    student_id = fields.String(required=True, validate=_ID)
    status = fields.String(required=True, validate=validate.Length(min=1, max=20), metadata={"description": STATUS_HELP})


class MarkingSchema(Schema):
    entries = fields.List(fields.Nested(MarkSchema), required=True, validate=validate.Length(min=1, max=60))


class LessonAttendanceSchema(Schema):
    lesson = fields.Nested(LessonSchema)
    entries = fields.List(fields.Nested(MarkSchema))


@blp.route("/classes/<class_id>/timetable", methods=["PUT"])
@blp.arguments(TimetableSchema)
@blp.response(200, WeekSchema)
def set_timetable(body, class_id):
    """Set the class's weekly timetable (the secretary); answers the week it starts in."""
    request = pb.SetTimetableRequest(
        class_id=class_id, school_year=body["school_year"], valid_from=body["valid_from"].isoformat() if body.get("valid_from") else "",
        entries=[pb.TimetableEntry(weekday=e["weekday"], lesson_no=e["lesson_no"], subject_id=e["subject_id"], teacher_id=e["teacher_id"], room=e.get("room", "")) for e in body["entries"]],
    )
    _attendance().SetTimetable(request, metadata=caller().metadata)
    return _week(pb.GetWeekRequest(class_id=class_id, day=request.valid_from))


def _week(request) -> dict:
    answer = _attendance().GetWeek(request, metadata=caller().metadata)
    return {"monday": answer.monday, "lessons": [_lesson(l) for l in answer.lessons]}


@blp.route("/classes/<class_id>/timetable", methods=["GET"])
@blp.arguments(WeekQuerySchema, location="query")
@blp.response(200, WeekSchema)
def class_week(query, class_id):
    """A class's lessons in a week (staff), with substitutions and cancellations."""
    return _week(pb.GetWeekRequest(class_id=class_id, day=query["day"].isoformat() if query.get("day") else ""))


@blp.route("/teachers/<teacher_id>/timetable", methods=["GET"])
@blp.arguments(WeekQuerySchema, location="query")
@blp.response(200, WeekSchema)
def teacher_week(query, teacher_id):
    """A teacher's lessons in a week, substitutions included (the teacher; the secretary and principal)."""
    return _week(pb.GetWeekRequest(teacher_id=teacher_id, day=query["day"].isoformat() if query.get("day") else ""))


@blp.route("/students/<student_id>/timetable", methods=["GET"])
@blp.arguments(WeekQuerySchema, location="query")
@blp.response(200, WeekSchema)
def student_week(query, student_id):
    """A student's lessons in a week (basic access: the timetable is free)."""
    return _week(pb.GetWeekRequest(student_id=student_id, day=query["day"].isoformat() if query.get("day") else ""))


@blp.route("/lessons", methods=["POST"])
@blp.arguments(NewLessonSchema)
@blp.response(201, LessonSchema)
def open_lesson(body):
    """Open a lesson by hand (a teacher of that class and subject), e.g. outside the timetable."""
    answer = _attendance().OpenLesson(
        pb.OpenLessonRequest(class_id=body["class_id"], subject_id=body["subject_id"], date=body["date"].isoformat(), lesson_no=body["lesson_no"], topic=body.get("topic", "")),
        metadata=caller().metadata,
    )
    return _lesson(answer.lesson)


@blp.route("/lessons/<lesson_id>", methods=["PATCH"])
@blp.arguments(LessonChangeSchema)
@blp.response(200, LessonSchema)
def change_lesson(body, lesson_id):
    """The topic (the lesson's teacher); a substitute or a cancellation (the secretary)."""
    change = pb.ChangeLessonRequest(lesson_id=lesson_id)
    if "topic" in body:
        change.topic = body["topic"]
    if "substitute_teacher_id" in body:
        change.substitute_teacher_id = body["substitute_teacher_id"] or ""
    if "cancelled" in body:
        change.cancelled = body["cancelled"]
    return _lesson(_attendance().ChangeLesson(change, metadata=caller().metadata).lesson)


@blp.route("/lessons/<lesson_id>/attendance", methods=["GET"])
@blp.response(200, LessonAttendanceSchema)
def lesson_attendance(lesson_id):
    """The lesson and its attendance marks (staff)."""
    answer = _attendance().GetLesson(pb.GetLessonRequest(lesson_id=lesson_id), metadata=caller().metadata)
    return {"lesson": _lesson(answer.lesson), "entries": [{"student_id": m.student_id, "status": m.status} for m in answer.marks]}


@blp.route("/lessons/<lesson_id>/attendance", methods=["PUT"])
@blp.arguments(MarkingSchema)
@blp.response(200, LessonAttendanceSchema)
def mark_attendance(body, lesson_id):
    """Mark the class (or some students) at a lesson; marking again changes the record and keeps
    its history. The lesson's teacher, a substitute or the homeroom teacher."""
    answer = _attendance().MarkAttendance(
        pb.MarkAttendanceRequest(lesson_id=lesson_id, entries=[pb.Mark(student_id=e["student_id"], status=e["status"]) for e in body["entries"]]),
        metadata=caller().metadata,
    )
    return {"lesson": _lesson(answer.lesson), "entries": [{"student_id": m.student_id, "status": m.status} for m in answer.marks]}


# -- a student's attendance and statistics -----------------------------------------------------------


class PeriodSchema(Schema):
    from_ = fields.Date(data_key="from", metadata={"description": "Default: the start of the school year."})
    to = fields.Date(metadata={"description": "Default: today."})


class RecordSchema(Schema):
    lesson_id = fields.String()
    date = fields.String(metadata={"format": "date"})
    lesson_no = fields.Integer()
    subject_id = fields.String()
    status = fields.String()


class RecordListSchema(Schema):
    items = fields.List(fields.Nested(RecordSchema))


class SummarySchema(Schema):
    percent_present = fields.Float(allow_none=True, metadata={"description": "(present + late + school_absence) / (that + absent + excused) × 100; released lessons count in neither."})
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())


class StudentSummarySchema(SummarySchema):
    by_subject = fields.Dict(keys=fields.String(), values=fields.Nested(SummarySchema))
    by_month = fields.Dict(keys=fields.String(), values=fields.Nested(SummarySchema))
    by_semester = fields.Dict(keys=fields.String(), values=fields.Nested(SummarySchema))


class ClassSummarySchema(SummarySchema):
    by_student = fields.Dict(keys=fields.String(), values=fields.Nested(SummarySchema))


def _period(query) -> dict:
    return {"from": query["from_"].isoformat() if query.get("from_") else "", "to": query["to"].isoformat() if query.get("to") else ""}


@blp.route("/students/<student_id>/attendance", methods=["GET"])
@blp.arguments(PeriodSchema, location="query")
@blp.response(200, RecordListSchema)
def student_attendance(query, student_id):
    """A student's attendance lesson by lesson (402 where the school's policy puts attendance in extended access)."""
    require_access(student_id, "attendance")
    answer = _attendance().ListStudentAttendance(pb.ListStudentAttendanceRequest(student_id=student_id, **_period(query)), metadata=caller().metadata)
    return {"items": [{"lesson_id": r.lesson_id, "date": r.date, "lesson_no": r.lesson_no, "subject_id": r.subject_id, "status": r.status} for r in answer.items]}


@blp.route("/students/<student_id>/attendance/summary", methods=["GET"])
@blp.arguments(PeriodSchema, location="query")
@blp.response(200, StudentSummarySchema)
def student_summary(query, student_id):
    """Percent present and counts by status: overall, per subject, per month and per semester."""
    require_access(student_id, "attendance")
    answer = _attendance().GetStudentSummary(pb.GetStudentSummaryRequest(student_id=student_id, **_period(query)), metadata=caller().metadata)
    keyed = lambda items: {k.key: _summary(k.summary) for k in items}  # noqa: E731
    return {**_summary(answer.overall), "by_subject": keyed(answer.by_subject), "by_month": keyed(answer.by_month), "by_semester": keyed(answer.by_semester)}


@blp.route("/classes/<class_id>/attendance/summary", methods=["GET"])
@blp.arguments(PeriodSchema, location="query")
@blp.response(200, ClassSummarySchema)
def class_summary(query, class_id):
    """The class's percent present and counts, and each student's (staff)."""
    answer = _attendance().GetClassSummary(pb.GetClassSummaryRequest(class_id=class_id, **_period(query)), metadata=caller().metadata)
    return {**_summary(answer.overall), "by_student": {k.key: _summary(k.summary) for k in answer.by_student}}


# -- excuses --------------------------------------------------------------------------------------------


class NewExcuseSchema(Schema):
    lesson_ids = fields.List(fields.String(validate=_ID), validate=validate.Length(max=100))
    days = fields.List(fields.Date(), validate=validate.Length(max=14), metadata={"description": "Whole days: every absence of the day."})
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class DecisionSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(["accepted", "rejected"]))


class ExcuseSchema(Schema):
    id = fields.String()
    student_id = fields.String()
    status = fields.String(metadata={"enum": ["pending", "accepted", "rejected"]})
    reason = fields.String()
    lesson_ids = fields.List(fields.String())
    submitted_by = fields.String()
    submitted_at = fields.String()
    decided_by = fields.String(allow_none=True)
    decided_at = fields.String(allow_none=True)


class ExcuseListSchema(Schema):
    items = fields.List(fields.Nested(ExcuseSchema))


class ExcuseFilterSchema(Schema):
    status = fields.String(validate=validate.OneOf(["pending", "accepted", "rejected"]))


def _excuse(excuse) -> dict:
    return {
        "id": excuse.id, "student_id": excuse.student_id, "status": excuse.status, "reason": excuse.reason, "lesson_ids": list(excuse.lesson_ids),
        "submitted_by": excuse.submitted_by, "submitted_at": excuse.submitted_at, "decided_by": excuse.decided_by or None, "decided_at": excuse.decided_at or None,
    }


@blp.route("/students/<student_id>/excuses", methods=["POST"])
@blp.arguments(NewExcuseSchema)
@blp.response(201, ExcuseSchema)
def submit_excuse(body, student_id):
    """A parent excuses absences (lessons or whole days) within the school's deadline (7 or 14 days)."""
    answer = _attendance().SubmitExcuse(
        pb.SubmitExcuseRequest(student_id=student_id, lesson_ids=body.get("lesson_ids", []), days=[d.isoformat() for d in body.get("days", [])], reason=body["reason"]),
        metadata=caller().metadata,
    )
    return _excuse(answer.excuse)


@blp.route("/excuses/<excuse_id>/decision", methods=["POST"])
@blp.arguments(DecisionSchema)
@blp.response(200, ExcuseSchema)
def decide_excuse(body, excuse_id):
    """The homeroom teacher accepts (the absences become excused) or rejects an excuse."""
    answer = _attendance().DecideExcuse(pb.DecideExcuseRequest(excuse_id=excuse_id, decision=body["decision"]), metadata=caller().metadata)
    return _excuse(answer.excuse)


@blp.route("/excuses", methods=["GET"])
@blp.arguments(ExcuseFilterSchema, location="query")
@blp.response(200, ExcuseListSchema)
def list_excuses(query):
    """Excuses the caller deals with: a parent's children's, a homeroom teacher's class's, the school's."""
    answer = _attendance().ListExcuses(pb.ListExcusesRequest(status=query.get("status", "")), metadata=caller().metadata)
    return {"items": [_excuse(e) for e in answer.excuses]}


# -- settings, types, meeting report ----------------------------------------------------------------------


class AttendanceSettingsSchema(Schema):
    excuse_deadline_days = fields.Integer(required=True, validate=validate.Range(min=1, max=30))
    adult_students_may_excuse = StrictBoolean(required=True)
    lesson_hours = fields.List(fields.String(validate=validate.Regexp(r"^\d{2}:\d{2}-\d{2}:\d{2}$")), required=True, metadata={"example": ["08:00-08:45", "08:55-09:40"]})


class TypeSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=20))
    name = fields.String(required=True, validate=validate.Length(min=1, max=60))
    counts_as = fields.String(required=True, validate=validate.OneOf(["present", "absent", "late", "excused", "released", "school_absence"]))


class ReportQuerySchema(PeriodSchema):
    pass


def _settings_body(s) -> dict:
    return {"excuse_deadline_days": s.excuse_deadline_days, "adult_students_may_excuse": s.adult_students_may_excuse, "lesson_hours": list(s.lesson_hours)}


@blp.route("/attendance-settings", methods=["GET"])
@blp.response(200, AttendanceSettingsSchema)
def get_settings():
    """The school's excuse deadline, whether adult students excuse themselves, and lesson hours."""
    return _settings_body(_attendance().GetSettings(pb.GetSettingsRequest(), metadata=caller().metadata).settings)


@blp.route("/attendance-settings", methods=["PUT"])
@blp.arguments(AttendanceSettingsSchema)
@blp.response(200, AttendanceSettingsSchema)
def put_settings(body):
    """Change the school's attendance settings (the secretary)."""
    settings = pb.Settings(excuse_deadline_days=body["excuse_deadline_days"], adult_students_may_excuse=body["adult_students_may_excuse"], lesson_hours=body["lesson_hours"])
    return _settings_body(_attendance().UpdateSettings(pb.UpdateSettingsRequest(settings=settings), metadata=caller().metadata).settings)


@blp.route("/attendance-types", methods=["POST"])
@blp.arguments(TypeSchema)
@blp.response(201, TypeSchema)
def create_type(body):
    """A school's own attendance type, counted as one of the standard statuses (the secretary)."""
    answer = _attendance().CreateAttendanceType(pb.CreateAttendanceTypeRequest(type=pb.AttendanceType(**body)), metadata=caller().metadata)
    return {"code": answer.type.code, "name": answer.type.name, "counts_as": answer.type.counts_as}


@blp.route("/attendance-types", methods=["GET"])
@blp.response(200, TypeSchema(many=True))
def list_types():
    """The school's own attendance types."""
    answer = _attendance().ListAttendanceTypes(pb.ListAttendanceTypesRequest(), metadata=caller().metadata)
    return [{"code": t.code, "name": t.name, "counts_as": t.counts_as} for t in answer.types]


def _pdf(request) -> Response:
    answer = _attendance().GetMeetingReport(request, metadata=caller().metadata)
    return Response(answer.pdf, mimetype="application/pdf", headers={"Content-Disposition": f'attachment; filename="{answer.filename}"'})


@blp.route("/students/<student_id>/meeting-report.pdf", methods=["GET"])
@blp.arguments(ReportQuerySchema, location="query")
@blp.response(200, {"type": "string", "format": "binary"}, content_type="application/pdf")
def student_report(query, student_id):
    """A printable report for the parent–teacher meeting: grades with averages, attendance and
    absences (the homeroom teacher, the secretary, the principal)."""
    return _pdf(pb.GetMeetingReportRequest(student_id=student_id, **_period(query)))


@blp.route("/classes/<class_id>/meeting-report.pdf", methods=["GET"])
@blp.arguments(ReportQuerySchema, location="query")
@blp.response(200, {"type": "string", "format": "binary"}, content_type="application/pdf")
def class_report(query, class_id):
    """The meeting report for every student of the class, one after another."""
    return _pdf(pb.GetMeetingReportRequest(class_id=class_id, **_period(query)))
