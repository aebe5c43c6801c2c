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


def test_the_grades_page_gradebook_keeps_is_exactly_what_the_documented_schema_would_send():
    """gradebook stores the grades page as the gateway sends it (services/gradebook/pages.py): its
    JSON must be what the gateway's documented schema would have produced, field for field."""
    from datetime import date
    from decimal import Decimal
    from types import SimpleNamespace

    import orjson

    from gateway.api.grades import StudentGradesSchema
    from services.gradebook import pages
    from services.gradebook.orm import GradeCategory, Subject
    from services.gradebook.use_cases import GradeView, StudentReport, SubjectReport

    def grade(**fields):
        row = dict(student_id="ala", subject_id="mat", category_id=None, comment="", teacher_id="t1", school_year="2026/2027",
                   points=None, max_points=None, improves_grade_id=None, version=1)
        return SimpleNamespace(**(row | fields))

    test = GradeCategory(id="c1", name="sprawdzian", weight=3, counts_to_average=True)
    report = StudentReport(
        student_id="ala", school_year="2026/2027", overall_average=Decimal("4.57"),
        subjects=[
            SubjectReport(
                subject=Subject(id="mat", name="Matematyka"),
                grades=[
                    GradeView(grade(id="g1", value="17.5/20", category_id="c1", issued_on=date(2026, 10, 1), comment="Ładnie",
                                    points=Decimal("17.50"), max_points=Decimal("20.00"), version=2), test, 1),
                    GradeView(grade(id="g2", value="np", issued_on=date(2026, 10, 2), improves_grade_id="g1"), None, 1),
                ],
                averages={"semester_1": Decimal("4.75"), "semester_2": None, "year": Decimal("4.75")},
                term_grades={"semester_proposed": "5"},
                suggested_semester_grade="5", suggested_annual_grade=None,
            ),
            SubjectReport(subject=Subject(id="fiz", name="Fizyka"), grades=[], averages={"semester_1": None, "semester_2": None, "year": None},
                          term_grades={}, suggested_semester_grade=None, suggested_annual_grade=None),
        ],
    )
    body = orjson.loads(pages.render(report))
    schema = StudentGradesSchema()
    assert schema.dump(schema.load(body)) == body  # every field documented, nothing undocumented
    [maths, physics] = body["subjects"]
    [points, mark] = maths["grades"]
    assert points["points"] == 17.5 and points["max_points"] == 20 and points["weight"] == 3 and points["category"] == "sprawdzian"
    assert points["counts_to_average"] is False  # a point grade never counts to the average
    assert mark["category"] is None and mark["weight"] == 1 and mark["counts_to_average"] is True and mark["improves_grade_id"] == "g1"
    assert maths["term_grades"] == {"semester_proposed": "5", "semester_final": None, "annual_proposed": None, "annual_final": None}
    assert maths["average"] == 4.75 and maths["averages"]["semester_2"] is None and body["overall_average"] == 4.57
    assert physics["average"] is None and physics["grades"] == [] and physics["suggested_semester_grade"] is None
