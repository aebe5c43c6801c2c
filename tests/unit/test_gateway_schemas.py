"""Shapes the gateway shares between resources."""
from __future__ import annotations

import pytest
from marshmallow import Schema, ValidationError

from gateway.api.schemas import StrictBoolean


class Flag(Schema):
    on = StrictBoolean(required=True)


@pytest.mark.parametrize("value", [True, False])
def test_a_json_boolean_is_taken(value):
    assert Flag().load({"on": value}) == {"on": value}


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, "on", "t", None])
def test_anything_else_is_refused_rather_than_guessed(value):
    with pytest.raises(ValidationError):
        Flag().load({"on": value})


def test_the_prebuilt_grades_page_is_exactly_what_its_schema_would_send():
    """The grades page skips marshmallow's dump (gateway/api/schemas.py `prebuilt`): its body must
    be what the documented schema would have produced, field for field."""
    import json

    from dziennik.gradebook.v1 import gradebook_pb2 as pb
    from gateway.api.grades import StudentGradesSchema, student_grades_body
    from gateway.api.schemas import prebuilt

    answer = pb.ListStudentGradesResponse(
        student_id="ala", school_year="2026/2027", overall_average="4.57",
        subjects=[
            pb.SubjectGrades(
                subject_id="mat", subject_name="Matematyka",
                grades=[
                    pb.Grade(id="g1", student_id="ala", subject_id="mat", value="5-", category_name="sprawdzian", category_id="c1", weight=3,
                             counts_to_average=True, date="2026-10-01", semester=1, school_year="2026/2027", teacher_id="t1", comment="Ładnie",
                             points="17.5", max_points="20", version=2),
                    pb.Grade(id="g2", student_id="ala", subject_id="mat", value="np", weight=1, date="2026-10-02", semester=1,
                             school_year="2026/2027", teacher_id="t1", improves_grade_id="g1", version=1),
                ],
                averages=pb.Averages(semester_1="4.75", year="4.75"),
                term_grades=pb.TermGrades(semester_proposed="5"),
                suggested_semester_grade="5",
            ),
            pb.SubjectGrades(subject_id="fiz", subject_name="Fizyka"),
        ],
    )
    body = student_grades_body(answer)
    assert body == StudentGradesSchema().dump(body)
    assert json.loads(prebuilt(body).get_data()) == body
    [maths, physics] = body["subjects"]
    assert maths["grades"][0]["points"] == 17.5 and maths["grades"][1]["category"] is None and maths["grades"][1]["points"] is None
    assert maths["term_grades"] == {"semester_proposed": "5", "semester_final": None, "annual_proposed": None, "annual_final": None}
    assert physics["average"] is None and physics["grades"] == []
