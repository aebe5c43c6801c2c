"""Grades: a teacher records them, students, parents and staff read them."""
from __future__ import annotations

from flask import current_app, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from dziennik.gradebook.v1 import gradebook_pb2
from gateway.security import caller, require_access

blp = Blueprint("grades", __name__, url_prefix="/api/v1", description="Oceny")

_ID = validate.Length(min=1, max=64)


class NewGradeSchema(Schema):
    student_id = fields.String(required=True, validate=_ID)
    subject_id = fields.String(required=True, validate=_ID)
    category_id = fields.String(validate=_ID, metadata={"description": "Grade category (weights arrive with the gradebook issue)."})
    value = fields.String(required=True, validate=validate.Length(min=1, max=8), metadata={"example": "4+"})
    comment = fields.String(validate=validate.Length(max=1000))


class GradeSchema(Schema):
    id = fields.String()
    student_id = fields.String()
    subject_id = fields.String()
    category_id = fields.String(allow_none=True)
    value = fields.String()
    comment = fields.String()
    teacher_id = fields.String()
    date = fields.String(metadata={"format": "date"})


class SubjectGradesSchema(Schema):
    subject_id = fields.String()
    subject_name = fields.String()
    grades = fields.List(fields.Nested(GradeSchema))


class StudentGradesSchema(Schema):
    student_id = fields.String()
    subjects = fields.List(fields.Nested(SubjectGradesSchema))


def _gradebook():
    return current_app.extensions["backends"].gradebook


def _grade(grade) -> dict:
    return {
        "id": grade.id,
        "student_id": grade.student_id,
        "subject_id": grade.subject_id,
        "category_id": grade.category_id or None,
        "value": grade.value,
        "comment": grade.comment,
        "teacher_id": grade.teacher_id,
        "date": grade.date,
    }


@blp.route("/grades", methods=["POST"])
@blp.arguments(NewGradeSchema)
@blp.response(201, GradeSchema)
def record_grade(body):
    """Record a grade (the teacher). An `Idempotency-Key` header makes a retried request record it once."""
    answer = _gradebook().RecordGrade(
        gradebook_pb2.RecordGradeRequest(
            student_id=body["student_id"],
            subject_id=body["subject_id"],
            category_id=body.get("category_id", ""),
            value=body["value"],
            comment=body.get("comment", ""),
            request_id=request.headers.get("Idempotency-Key", "")[:64],
        ),
        metadata=caller().metadata,
    )
    return _grade(answer.grade)


@blp.route("/students/<student_id>/grades", methods=["GET"])
@blp.response(200, StudentGradesSchema)
def student_grades(student_id):
    """A student's grades by subject (the student, their parents, their teachers, the school's
    secretary and principal). 402 where the school's policy puts grades in extended access."""
    require_access(student_id, "grades")
    answer = _gradebook().ListStudentGrades(gradebook_pb2.ListStudentGradesRequest(student_id=student_id), metadata=caller().metadata)
    return {
        "student_id": answer.student_id,
        "subjects": [
            {"subject_id": s.subject_id, "subject_name": s.subject_name, "grades": [_grade(g) for g in s.grades]} for s in answer.subjects
        ],
    }
