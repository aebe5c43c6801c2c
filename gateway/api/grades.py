"""Grades: categories and the school's grading settings, grades with their history, averages,
term grades and class statistics."""
from __future__ import annotations

import gzip
import json
from datetime import timezone
from decimal import Decimal, InvalidOperation

from flask import Response, current_app, request
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate

from dziennik.gradebook.v1 import gradebook_pb2
from gateway.api.schemas import IdSchema, StrictBoolean
from gateway.problems import Problem
from gateway.security import caller, require_access

blp = Blueprint("grades", __name__, url_prefix="/api/v1", description="Oceny")

_ID = validate.Length(min=1, max=64)
_DECIMAL = validate.Regexp(r"^\d{1,5}(\.\d{1,2})?$", error="Liczba, np. 17 lub 17.5.")
TERM_KINDS = ["semester_proposed", "semester_final", "annual_proposed", "annual_final"]


def _between(low: str, high: str):
    """A decimal written as text ("0.5") within [low, high]; its format is _DECIMAL's to report."""

    def check(value: str) -> None:
        try:
            inside = Decimal(low) <= Decimal(value) <= Decimal(high)
        except InvalidOperation:
            return
        if not inside:
            raise ValidationError(f"Liczba od {low} do {high}.")

    return check


def _gradebook():
    return current_app.extensions["backends"].gradebook


def _number(text: str) -> float | None:
    return float(text) if text else None


def _expected_version(body: dict) -> int:
    """The version the client saw: `If-Match: "3"` or `"version": 3` (0: no check)."""
    header = request.headers.get("If-Match", "").strip().strip('W/').strip('"')
    if header:
        if not header.isdigit():
            raise Problem("validation_error", "If-Match to numer wersji oceny.", errors={"If-Match": "Numer wersji, np. \"3\"."})
        return int(header)
    return int(body.get("version") or 0)


# -- categories and settings ------------------------------------------------------------------------


class NewCategorySchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=60), metadata={"example": "sprawdzian"})
    weight = fields.Integer(required=True, validate=validate.Range(min=1, max=10))
    counts_to_average = StrictBoolean(required=True)


class CategorySchema(NewCategorySchema):
    id = fields.String()


class ThresholdSchema(Schema):
    lowest_average = fields.String(required=True, validate=[_DECIMAL, _between("0", "6")], metadata={"example": "4.51"})
    grade = fields.String(required=True, validate=validate.OneOf(["1", "2", "3", "4", "5", "6"]))


class GradeSettingsSchema(Schema):
    # Decimals as JSON strings, as they are answered (a JSON number would lose "0.50"'s precision).
    plus = fields.String(required=True, validate=[_DECIMAL, _between("0", "0.99")], metadata={"example": "0.5"})
    minus = fields.String(required=True, validate=[_DECIMAL, _between("0", "0.99")], metadata={"example": "0.25"})
    improved_original_counts = StrictBoolean(required=True)
    allowed_marks = fields.List(fields.String(validate=validate.OneOf(["+", "-", "np", "bz", "nk", "zw"])), required=True)
    thresholds = fields.List(fields.Nested(ThresholdSchema), required=True, validate=validate.Length(equal=6))
    second_semester_starts = fields.String(required=True, validate=validate.Regexp(r"^\d{2}-\d{2}$"), metadata={"example": "02-01"})


@blp.route("/grade-categories", methods=["POST"])
@blp.arguments(NewCategorySchema)
@blp.response(201, IdSchema)
def create_category(body):
    """A grade category of the school (the secretary): weight 1–10, counts to the average or not."""
    answer = _gradebook().CreateCategory(
        gradebook_pb2.CreateCategoryRequest(name=body["name"], weight=body["weight"], counts_to_average=body["counts_to_average"]),
        metadata=caller().metadata,
    )
    return {"id": answer.id}


@blp.route("/grade-categories", methods=["GET"])
@blp.response(200, CategorySchema(many=True))
def list_categories():
    """The school's grade categories."""
    answer = _gradebook().ListCategories(gradebook_pb2.ListCategoriesRequest(), metadata=caller().metadata)
    return [{"id": c.id, "name": c.name, "weight": c.weight, "counts_to_average": c.counts_to_average} for c in answer.categories]


def _settings_body(settings) -> dict:
    return {
        "plus": settings.plus,
        "minus": settings.minus,
        "improved_original_counts": settings.improved_original_counts,
        "allowed_marks": list(settings.allowed_marks),
        "thresholds": [{"lowest_average": t.lowest_average, "grade": t.grade} for t in settings.thresholds],
        "second_semester_starts": settings.second_semester_starts,
    }


@blp.route("/grade-settings", methods=["GET"])
@blp.response(200, GradeSettingsSchema)
def get_settings():
    """The school's grading rules: modifier values, allowed marks, improvements, term-grade thresholds."""
    return _settings_body(_gradebook().GetSettings(gradebook_pb2.GetSettingsRequest(), metadata=caller().metadata).settings)


@blp.route("/grade-settings", methods=["PUT"])
@blp.arguments(GradeSettingsSchema)
@blp.response(200, GradeSettingsSchema)
def put_settings(body):
    """Change the school's grading rules (the secretary)."""
    settings = gradebook_pb2.Settings(
        plus=str(body["plus"]),
        minus=str(body["minus"]),
        improved_original_counts=body["improved_original_counts"],
        allowed_marks=body["allowed_marks"],
        thresholds=[gradebook_pb2.Threshold(lowest_average=str(t["lowest_average"]), grade=t["grade"]) for t in body["thresholds"]],
        second_semester_starts=body["second_semester_starts"],
    )
    answer = _gradebook().UpdateSettings(gradebook_pb2.UpdateSettingsRequest(settings=settings), metadata=caller().metadata)
    return _settings_body(answer.settings)


# -- grades ---------------------------------------------------------------------------------------------


class NewGradeSchema(Schema):
    student_id = fields.String(required=True, validate=_ID)
    subject_id = fields.String(required=True, validate=_ID)
    category_id = fields.String(validate=_ID)
    value = fields.String(validate=validate.Length(min=1, max=8), metadata={"example": "4+"})
    comment = fields.String(validate=validate.Length(max=1000))
    date = fields.Date(metadata={"description": "The day the grade was given; default today, never in the future."})
    points = fields.String(validate=_DECIMAL, metadata={"description": "Point grades: points scored (with max_points)."})
    max_points = fields.String(validate=_DECIMAL)
    improves_grade_id = fields.String(validate=_ID, metadata={"description": "This grade improves an earlier one (poprawa)."})


class BatchEntrySchema(Schema):
    student_id = fields.String(required=True, validate=_ID)
    value = fields.String(validate=validate.Length(min=1, max=8))
    comment = fields.String(validate=validate.Length(max=1000))
    points = fields.String(validate=_DECIMAL)
    max_points = fields.String(validate=_DECIMAL)
    improves_grade_id = fields.String(validate=_ID)


class BatchSchema(Schema):
    subject_id = fields.String(required=True, validate=_ID)
    category_id = fields.String(validate=_ID)
    date = fields.Date()
    grades = fields.List(fields.Nested(BatchEntrySchema), required=True, validate=validate.Length(min=1, max=60))


class GradeChangeSchema(Schema):
    value = fields.String(validate=validate.Length(min=1, max=8))
    comment = fields.String(validate=validate.Length(max=1000))
    category_id = fields.String(validate=_ID)
    version = fields.Integer(validate=validate.Range(min=1), metadata={"description": "The version you saw (or If-Match); 409 if it changed since."})


class GradeSchema(Schema):
    id = fields.String()
    student_id = fields.String()
    subject_id = fields.String()
    value = fields.String()
    category = fields.String(allow_none=True)
    category_id = fields.String(allow_none=True)
    weight = fields.Integer()
    counts_to_average = StrictBoolean()
    date = fields.String(metadata={"format": "date"})
    semester = fields.Integer()
    school_year = fields.String()
    teacher = fields.String(metadata={"description": "The teacher's user id."})
    comment = fields.String()
    points = fields.Float(allow_none=True)
    max_points = fields.Float(allow_none=True)
    improves_grade_id = fields.String(allow_none=True)
    version = fields.Integer()


class GradeListSchema(Schema):
    items = fields.List(fields.Nested(GradeSchema))


class HistoryEntrySchema(Schema):
    action = fields.String(metadata={"enum": ["recorded", "changed", "deleted"]})
    actor_id = fields.String()
    at = fields.DateTime()
    old = fields.Dict(allow_none=True)
    new = fields.Dict(allow_none=True)


class HistorySchema(Schema):
    grade_id = fields.String()
    items = fields.List(fields.Nested(HistoryEntrySchema))


def _grade(grade) -> dict:
    return {
        "id": grade.id,
        "student_id": grade.student_id,
        "subject_id": grade.subject_id,
        "value": grade.value,
        "category": grade.category_name or None,
        "category_id": grade.category_id or None,
        "weight": grade.weight,
        "counts_to_average": grade.counts_to_average,
        "date": grade.date,
        "semester": grade.semester,
        "school_year": grade.school_year,
        "teacher": grade.teacher_id,
        "comment": grade.comment,
        "points": _number(grade.points),
        "max_points": _number(grade.max_points),
        "improves_grade_id": grade.improves_grade_id or None,
        "version": grade.version,
    }


def _idempotency_key() -> str:
    return request.headers.get("Idempotency-Key", "")[:60]


@blp.route("/grades", methods=["POST"])
@blp.arguments(NewGradeSchema)
@blp.response(201, GradeSchema)
def record_grade(body):
    """Record a grade (a teacher of that class and subject). `value` is 1–6 with + or −, or a
    mark (+, -, np, bz, nk, zw); a point grade gives `points` and `max_points` instead. An
    `Idempotency-Key` header makes a retried request record it once."""
    if not body.get("value") and not body.get("points"):
        raise Problem("validation_error", "Podaj ocenę.", errors={"value": "Podaj ocenę albo punkty."})
    answer = _gradebook().RecordGrade(
        gradebook_pb2.RecordGradeRequest(
            student_id=body["student_id"],
            subject_id=body["subject_id"],
            category_id=body.get("category_id", ""),
            value=body.get("value", ""),
            comment=body.get("comment", ""),
            date=body["date"].isoformat() if body.get("date") else "",
            points=body.get("points", ""),
            max_points=body.get("max_points", ""),
            improves_grade_id=body.get("improves_grade_id", ""),
            request_id=_idempotency_key(),
        ),
        metadata=caller().metadata,
    )
    return _grade(answer.grade)


@blp.route("/grades/batch", methods=["POST"])
@blp.arguments(BatchSchema)
@blp.response(201, GradeListSchema)
def record_grades(body):
    """Grades for several students at once (a class's test): all are recorded or none; errors
    name the entry, e.g. `grades[3].value`."""
    answer = _gradebook().RecordGrades(
        gradebook_pb2.RecordGradesRequest(
            subject_id=body["subject_id"],
            category_id=body.get("category_id", ""),
            date=body["date"].isoformat() if body.get("date") else "",
            grades=[
                gradebook_pb2.NewGrade(
                    student_id=g["student_id"],
                    value=g.get("value", ""),
                    comment=g.get("comment", ""),
                    points=g.get("points", ""),
                    max_points=g.get("max_points", ""),
                    improves_grade_id=g.get("improves_grade_id", ""),
                )
                for g in body["grades"]
            ],
            request_id=_idempotency_key(),
        ),
        metadata=caller().metadata,
    )
    return {"items": [_grade(g) for g in answer.grades]}


@blp.route("/grades/<grade_id>", methods=["PATCH"])
@blp.arguments(GradeChangeSchema)
@blp.response(200, GradeSchema)
def change_grade(body, grade_id):
    """Correct a grade (a teacher of that class and subject, or the secretary); the change is
    kept in its history. Send the version you saw (`If-Match` or `version`) to get 409 instead
    of overwriting someone else's change."""
    change = gradebook_pb2.ChangeGradeRequest(grade_id=grade_id, expected_version=_expected_version(body))
    for field in ("value", "comment", "category_id"):
        if field in body:
            setattr(change, field, body[field])
    return _grade(_gradebook().ChangeGrade(change, metadata=caller().metadata).grade)


@blp.route("/grades/<grade_id>", methods=["DELETE"])
@blp.response(204)
def delete_grade(grade_id):
    """Delete a grade: it leaves averages and lists, and its history keeps every state."""
    _gradebook().DeleteGrade(gradebook_pb2.DeleteGradeRequest(grade_id=grade_id, expected_version=_expected_version({})), metadata=caller().metadata)


@blp.route("/grades/<grade_id>/history", methods=["GET"])
@blp.response(200, HistorySchema)
def grade_history(grade_id):
    """Every state of a grade: who recorded, changed or deleted it, when, old and new values."""
    answer = _gradebook().GetGradeHistory(gradebook_pb2.GetGradeHistoryRequest(grade_id=grade_id), metadata=caller().metadata)
    if answer.student_id:
        require_access(answer.student_id, "grades")
    return {
        "grade_id": grade_id,
        "items": [
            {
                "action": e.action,
                "actor_id": e.actor_id,
                "at": e.at.ToDatetime(tzinfo=timezone.utc),  # ISO 8601 with its offset (API.md)
                "old": json.loads(e.old_json) if e.old_json else None,
                "new": json.loads(e.new_json) if e.new_json else None,
            }
            for e in answer.entries
        ],
    }


# -- a student's grades, term grades, class statistics ----------------------------------------------------


class AveragesSchema(Schema):
    semester_1 = fields.Float(allow_none=True)
    semester_2 = fields.Float(allow_none=True)
    year = fields.Float(allow_none=True)


class TermGradesSchema(Schema):
    semester_proposed = fields.String(allow_none=True)
    semester_final = fields.String(allow_none=True)
    annual_proposed = fields.String(allow_none=True)
    annual_final = fields.String(allow_none=True)


class SubjectGradesSchema(Schema):
    subject_id = fields.String()
    subject_name = fields.String()
    grades = fields.List(fields.Nested(GradeSchema))
    average = fields.Float(allow_none=True, metadata={"description": "The year's weighted average; null when nothing counts."})
    averages = fields.Nested(AveragesSchema)
    term_grades = fields.Nested(TermGradesSchema)
    suggested_semester_grade = fields.String(allow_none=True)
    suggested_annual_grade = fields.String(allow_none=True)


class StudentGradesSchema(Schema):
    student_id = fields.String()
    school_year = fields.String()
    subjects = fields.List(fields.Nested(SubjectGradesSchema))
    overall_average = fields.Float(allow_none=True)


class YearQuerySchema(Schema):
    school_year = fields.String(validate=validate.Regexp(r"^\d{4}/\d{4}$"), metadata={"example": "2026/2027"})


class TermGradeSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(TERM_KINDS))
    value = fields.String(required=True, validate=validate.Length(min=1, max=4), metadata={"description": "1–6, nk or zw"})
    school_year = fields.String(validate=validate.Regexp(r"^\d{4}/\d{4}$"))


class TermGradeSetSchema(Schema):
    kind = fields.String()
    value = fields.String()
    school_year = fields.String()
    suggested = fields.String(allow_none=True, metadata={"description": "What the school's thresholds suggest from the average."})


class StatisticsQuerySchema(Schema):
    subject_id = fields.String(required=True, validate=_ID)
    school_year = fields.String(validate=validate.Regexp(r"^\d{4}/\d{4}$"))


class StatisticsSchema(Schema):
    class_id = fields.String()
    subject_id = fields.String()
    grade_count = fields.Integer()
    student_count = fields.Integer()
    average = fields.Float(allow_none=True, metadata={"description": "Mean of the students' weighted averages."})
    distribution = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={"example": {"4": 7, "5": 3, "np": 1}})


# The suffix of the ETag of the page's gzip representation (see student_grades).
GZIP_TAG = "+gzip"


@blp.route("/students/<student_id>/grades", methods=["GET"])
@blp.arguments(YearQuerySchema, location="query")
@blp.response(
    200, StudentGradesSchema,
    headers={
        "ETag": {"description": "The page's version; send it as If-None-Match to get 304 while it is current.", "schema": {"type": "string"}},
        "Content-Encoding": {"description": "`gzip` when the request's Accept-Encoding allows it (about a tenth of the size).", "schema": {"type": "string"}},
        "Vary": {"description": "`Accept-Encoding`.", "schema": {"type": "string"}},
    },
)
@blp.alt_response(304, description="The page is still the one whose ETag was sent in If-None-Match.")
def student_grades(query, student_id):
    """A student's grades by subject with weighted averages (semesters and year), term grades and
    suggestions (the student, their parents, their teachers, the secretary and principal). 402
    where the school's policy puts grades in extended access. An app that keeps the page sends
    its `ETag` as `If-None-Match` and gets 304 without a body while nothing on it changed. Sent
    gzip-compressed to clients that accept it (browsers, phone apps' HTTP libraries). The
    student and their parents may be answered from the gateway's copy of the page, which a
    change reaches within moments of being recorded rather than at once."""
    family = require_access(student_id, "grades")
    gzipped, cached_version = _accepts_gzip(), _if_none_match()
    school_year = query.get("school_year", "")

    def ask_gradebook(**wanted) -> gradebook_pb2.GetStudentGradesPageResponse:
        return _gradebook().GetStudentGradesPage(
            gradebook_pb2.GetStudentGradesPageRequest(student_id=student_id, school_year=school_year, **wanted), metadata=caller().metadata
        )

    copies = current_app.extensions["page_copies"]
    if family and copies.followed:  # the worker's copy may answer the student and their parents (gateway/page_copies.py)
        answer = copies.get_or_load((student_id, school_year), lambda: ask_gradebook(accept_gzip=True))
        not_modified = cached_version == answer.version
    else:
        answer = ask_gradebook(cached_version=cached_version, accept_gzip=gzipped)
        not_modified = answer.not_modified
    # A strong ETag names one representation (RFC 9110 8.8.3): the gzip one is told apart.
    headers = {"ETag": f'"{answer.version}{GZIP_TAG if gzipped else ""}"', "Vary": "Accept-Encoding"}
    if not_modified:
        return Response(status=304, headers=headers)
    # gradebook keeps the page as this endpoint serves it (services/gradebook/pages.py): sent as is
    if gzipped:
        return Response(answer.page_gzip, mimetype="application/json", headers={**headers, "Content-Encoding": "gzip"})
    return Response(answer.page_json or gzip.decompress(answer.page_gzip), mimetype="application/json", headers=headers)


def _accepts_gzip() -> bool:
    """Accept-Encoding names gzip (or *) with a quality above 0."""
    return request.accept_encodings["gzip"] > 0


def _if_none_match() -> str:
    """The page version named in If-None-Match, if the client sent one ("*" or a list: none);
    either representation's tag names it (If-None-Match compares weakly, RFC 9110 13.1.2)."""
    tag = request.headers.get("If-None-Match", "").strip().removeprefix("W/")
    if len(tag) > 2 and tag[0] == tag[-1] == '"' and '"' not in tag[1:-1]:
        return tag[1:-1].removesuffix(GZIP_TAG)
    return ""


@blp.route("/students/<student_id>/term-grades/<subject_id>", methods=["PUT"])
@blp.arguments(TermGradeSchema)
@blp.response(200, TermGradeSetSchema)
def set_term_grade(body, student_id, subject_id):
    """Set a semester or annual grade, proposed or final (the teacher of that subject decides;
    the answer shows what the thresholds suggest)."""
    answer = _gradebook().SetTermGrade(
        gradebook_pb2.SetTermGradeRequest(
            student_id=student_id, subject_id=subject_id, kind=body["kind"], value=body["value"], school_year=body.get("school_year", "")
        ),
        metadata=caller().metadata,
    )
    return {"kind": answer.kind, "value": answer.value, "school_year": answer.school_year, "suggested": answer.suggested or None}


@blp.route("/classes/<class_id>/grade-statistics", methods=["GET"])
@blp.arguments(StatisticsQuerySchema, location="query")
@blp.response(200, StatisticsSchema)
def class_statistics(query, class_id):
    """Distribution, average and number of grades of one subject in a class (its teachers, the
    homeroom teacher, the secretary and principal)."""
    answer = _gradebook().GetClassStatistics(
        gradebook_pb2.GetClassStatisticsRequest(class_id=class_id, subject_id=query["subject_id"], school_year=query.get("school_year", "")),
        metadata=caller().metadata,
    )
    return {
        "class_id": answer.class_id,
        "subject_id": answer.subject_id,
        "grade_count": answer.grade_count,
        "student_count": answer.student_count,
        "average": _number(answer.average),
        "distribution": {b.value: b.count for b in answer.distribution},
    }
