"""Weighted averages, semesters and term-grade suggestions (DOMAIN.md, "Grades").

Every expected value below was worked out by hand; the arithmetic is in the comment beside it.
Values are compared as Decimal, exactly (e.g. Decimal("4.46"), never a float).
"""
from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import pytest

from services.gradebook.averages import (
    DEFAULT_THRESHOLDS,
    CountedGrade,
    GradeSettings,
    averages,
    grade_number,
    overall_average,
    school_year_of,
    semester_of,
    suggest_term_grade,
    weighted_average,
)

D = Decimal
DEFAULT = GradeSettings()
VULCAN = GradeSettings(plus=D("0.33"), minus=D("0.33"))
ORIGINAL_COUNTS = GradeSettings(improved_original_counts=True)
MARK_VALUES = ["+", "-", "np", "bz", "nk", "zw"]

_ids = itertools.count(1)


def grade(
    value: str,
    weight: int = 1,
    *,
    counts: bool = True,
    on: date = date(2026, 10, 1),
    id: str | None = None,
    improves: str | None = None,
    points: bool = False,
) -> CountedGrade:
    return CountedGrade(
        id=id or f"g{next(_ids)}",
        value=value,
        weight=weight,
        counts_to_average=counts,
        issued_on=on,
        improves_grade_id=improves,
        is_points=points,
    )


# --- grade_number -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1", "2", "3", "4", "5", "6"])
def test_whole_grades_are_their_number(value):
    assert grade_number(value, DEFAULT) == D(value)


@pytest.mark.parametrize(
    ("value", "settings", "expected"),
    [
        ("4+", DEFAULT, D("4.5")),  # 4 + 0.5
        ("4-", DEFAULT, D("3.75")),  # 4 - 0.25
        ("4+", VULCAN, D("4.33")),  # 4 + 0.33
        ("4-", VULCAN, D("3.67")),  # 4 - 0.33
    ],
    ids=["4+ default", "4- default", "4+ vulcan", "4- vulcan"],
)
def test_modifiers(value, settings, expected):
    assert grade_number(value, settings) == expected


@pytest.mark.parametrize("mark", MARK_VALUES)
@pytest.mark.parametrize("settings", [DEFAULT, VULCAN], ids=["default", "vulcan"])
def test_marks_have_no_number(mark, settings):
    assert grade_number(mark, settings) is None


# --- weighted_average -------------------------------------------------------------------------

# sprawdzian w3 "5", kartkówka w2 "4+", odpowiedź w1 "3-":
# (5·3 + 4.5·2 + 2.75·1) / (3+2+1) = (15 + 9 + 2.75) / 6 = 26.75 / 6 = 4.4583… → 4.46
BASE = (grade("5", 3), grade("4+", 2), grade("3-", 1))
BASE_AVERAGE = D("4.46")


def test_weighted_average_golden_case():
    assert weighted_average(BASE, DEFAULT) == BASE_AVERAGE


@pytest.mark.parametrize(
    "extra",
    [
        grade("1", 5, counts=False),  # category that does not count to the average
        grade("1", 0),  # weight 0
        grade("np", 1),
        grade("bz", 1),
        grade("+", 1),
        grade("-", 1),
        grade("1", 2, points=True),  # point grade
    ],
    ids=["non-counting category", "weight 0", "np", "bz", "plus mark", "minus mark", "point grade"],
)
def test_grades_that_do_not_count_leave_the_average_unchanged(extra):
    # Same 26.75 / 6 = 4.46 as the golden case: `extra` contributes to neither sum.
    assert weighted_average([*BASE, extra], DEFAULT) == BASE_AVERAGE


@pytest.mark.parametrize(
    "grades",
    [
        [],
        [grade(m, 2) for m in MARK_VALUES],
        [grade("5", 3, counts=False), grade("4", 2, counts=False)],
        [grade("5", 0), grade("4", 0)],
        [grade("5", 3, points=True)],
        [grade("np", 1), grade("5", 2, counts=False), grade("4", 0), grade("3", 1, points=True)],
    ],
    ids=["empty", "only marks", "only non-counting category", "only weight 0", "only points", "mixed nothing"],
)
def test_nothing_counting_means_no_average_not_zero(grades):
    assert weighted_average(grades, DEFAULT) is None


def test_rounding_is_half_up_on_an_exact_half_cent():
    # "4+" w1, "4-" w1: (4.5 + 3.75) / 2 = 8.25 / 2 = 4.125 exactly → 4.13 (half-even would give 4.12)
    assert weighted_average([grade("4+"), grade("4-")], DEFAULT) == D("4.13")


def test_rounding_is_half_up_with_weights():
    # "2-" w3, "3" w1: (1.75·3 + 3·1) / 4 = (5.25 + 3) / 4 = 8.25 / 4 = 2.0625 → 2.06
    # "5-" w1, "5" w3: (4.75 + 15) / 4 = 19.75 / 4 = 4.9375 → 4.94
    assert weighted_average([grade("2-", 3), grade("3", 1)], DEFAULT) == D("2.06")
    assert weighted_average([grade("5-", 1), grade("5", 3)], DEFAULT) == D("4.94")


def test_result_has_two_places():
    # "4" w1: 4 / 1 = 4 → 4.00
    result = weighted_average([grade("4")], DEFAULT)
    assert result == D("4.00")
    assert result.as_tuple().exponent == -2


# --- improvements (poprawa) -------------------------------------------------------------------


def _improved_pair():
    return [grade("1", 3, id="orig"), grade("4", 3, id="fix", improves="orig"), grade("5", 1)]


def test_improved_original_does_not_count_by_default():
    # Only "4" w3 and "5" w1: (12 + 5) / 4 = 17 / 4 = 4.25
    assert weighted_average(_improved_pair(), DEFAULT) == D("4.25")


def test_improved_original_counts_when_the_school_says_so():
    # "1" w3, "4" w3, "5" w1: (3 + 12 + 5) / 7 = 20 / 7 = 2.857… → 2.86
    assert weighted_average(_improved_pair(), ORIGINAL_COUNTS) == D("2.86")


def test_single_improvement_of_a_one():
    # default: only the 4 → 4·1 / 1 = 4.00; original counts: (1 + 4) / 2 = 2.50
    grades = [grade("1", id="one"), grade("4", id="four", improves="one")]
    assert weighted_average(grades, DEFAULT) == D("4.00")
    assert weighted_average(grades, ORIGINAL_COUNTS) == D("2.50")


def test_explicit_improved_ids_are_used():
    # `improved` given by the caller (the improvement lives elsewhere): "1" w3 drops, "5" w1 → 5.00
    grades = [grade("1", 3, id="orig"), grade("5", 1)]
    assert weighted_average(grades, DEFAULT, improved=frozenset({"orig"})) == D("5.00")
    # without it, (3 + 5) / 4 = 2.00
    assert weighted_average(grades, DEFAULT) == D("2.00")


# --- configurable modifiers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        # "4+" w1, "4-" w1, "5" w2: (4.5 + 3.75 + 10) / 4 = 18.25 / 4 = 4.5625 → 4.56
        (DEFAULT, D("4.56")),
        # (4.33 + 3.67 + 10) / 4 = 18 / 4 = 4.50
        (VULCAN, D("4.50")),
    ],
    ids=["default", "vulcan"],
)
def test_modifier_settings_change_the_average(settings, expected):
    assert weighted_average([grade("4+"), grade("4-"), grade("5", 2)], settings) == expected


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        # "4+" w2, "3" w1: (9 + 3) / 3 = 12 / 3 = 4.00
        (DEFAULT, D("4.00")),
        # (4.33·2 + 3) / 3 = 11.66 / 3 = 3.8866… → 3.89
        (VULCAN, D("3.89")),
    ],
    ids=["default", "vulcan"],
)
def test_modifier_settings_change_the_average_with_weights(settings, expected):
    assert weighted_average([grade("4+", 2), grade("3", 1)], settings) == expected


# --- school year and semesters ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "year"),
    [
        (date(2026, 9, 1), "2026/2027"),
        (date(2027, 8, 31), "2026/2027"),
        (date(2026, 8, 31), "2025/2026"),
        (date(2026, 12, 31), "2026/2027"),
        (date(2027, 1, 1), "2026/2027"),
    ],
)
def test_school_year_of(day, year):
    assert school_year_of(day) == year


@pytest.mark.parametrize(
    ("day", "semester"),
    [
        (date(2027, 1, 31), 1),
        (date(2027, 2, 1), 2),
        (date(2026, 9, 1), 1),
        (date(2027, 6, 30), 2),
        (date(2026, 12, 31), 1),
        (date(2027, 8, 31), 2),
    ],
)
def test_semester_of_with_default_start(day, semester):
    assert semester_of(day, DEFAULT) == semester


@pytest.mark.parametrize(("day", "semester"), [(date(2027, 1, 19), 1), (date(2027, 1, 20), 2), (date(2027, 2, 1), 2)])
def test_semester_of_with_custom_start(day, semester):
    assert semester_of(day, GradeSettings(second_semester_starts=(1, 20))) == semester


# --- averages() -------------------------------------------------------------------------------


def test_averages_per_semester_and_year():
    grades = [
        grade("5", 3, on=date(2026, 9, 15)),
        grade("3", 1, on=date(2026, 11, 10)),
        grade("4", 2, on=date(2027, 1, 31)),  # last day of semester 1
        grade("2+", 2, on=date(2027, 2, 1)),  # first day of semester 2
        grade("6", 1, on=date(2027, 5, 20)),
        grade("np", 1, on=date(2027, 5, 21)),  # mark: ignored
    ]
    assert averages(grades, DEFAULT) == {
        # (15 + 3 + 8) / (3+1+2) = 26 / 6 = 4.333… → 4.33
        "semester_1": D("4.33"),
        # (2.5·2 + 6) / (2+1) = 11 / 3 = 3.666… → 3.67
        "semester_2": D("3.67"),
        # (15 + 3 + 8 + 5 + 6) / (3+1+2+2+1) = 37 / 9 = 4.111… → 4.11
        "year": D("4.11"),
    }


def test_semester_without_grades_has_no_average():
    grades = [grade("5", 2, on=date(2027, 3, 1)), grade("4-", 1, on=date(2027, 4, 1))]
    assert averages(grades, DEFAULT) == {
        "semester_1": None,
        # (10 + 3.75) / 3 = 13.75 / 3 = 4.5833… → 4.58
        "semester_2": D("4.58"),
        "year": D("4.58"),
    }
    only_first = [grade("3+", on=date(2026, 10, 1))]
    # 3.5 / 1 = 3.50
    assert averages(only_first, DEFAULT) == {"semester_1": D("3.50"), "semester_2": None, "year": D("3.50")}


def _improved_across_semesters():
    return [
        grade("4", 1, on=date(2026, 10, 1)),
        grade("1", 3, on=date(2026, 12, 10), id="orig"),
        grade("4", 3, on=date(2027, 2, 10), id="fix", improves="orig"),
        grade("5", 2, on=date(2027, 3, 1)),
    ]


def test_original_improved_in_the_next_semester_drops_out_of_the_first():
    assert averages(_improved_across_semesters(), DEFAULT) == {
        # the "1" drops out: only "4" w1 → 4 / 1 = 4.00
        "semester_1": D("4.00"),
        # "4" w3 + "5" w2: (12 + 10) / 5 = 22 / 5 = 4.40
        "semester_2": D("4.40"),
        # (4 + 12 + 10) / (1+3+2) = 26 / 6 = 4.333… → 4.33
        "year": D("4.33"),
    }


def test_original_improved_in_the_next_semester_counts_when_the_school_says_so():
    assert averages(_improved_across_semesters(), ORIGINAL_COUNTS) == {
        # (4 + 3) / (1+3) = 7 / 4 = 1.75
        "semester_1": D("1.75"),
        # (12 + 10) / 5 = 4.40
        "semester_2": D("4.40"),
        # (4 + 3 + 12 + 10) / (1+3+3+2) = 29 / 9 = 3.222… → 3.22
        "year": D("3.22"),
    }


def test_only_grade_of_semester_1_improved_in_semester_2_leaves_semester_1_empty():
    grades = [grade("2", 2, on=date(2026, 11, 1), id="orig"), grade("5", 2, on=date(2027, 3, 1), improves="orig")]
    # semester 1: nothing counts → None; semester 2 and year: 5·2 / 2 = 5.00
    assert averages(grades, DEFAULT) == {"semester_1": None, "semester_2": D("5.00"), "year": D("5.00")}


def test_averages_of_nothing():
    assert averages([], DEFAULT) == {"semester_1": None, "semester_2": None, "year": None}


# --- suggest_term_grade -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("average", "expected"),
    [
        (D("6.00"), "6"),
        (D("5.31"), "6"),
        (D("5.30"), "5"),
        (D("4.51"), "5"),
        (D("4.50"), "4"),
        (D("3.51"), "4"),
        (D("3.50"), "3"),
        (D("2.51"), "3"),
        (D("2.50"), "2"),
        (D("1.51"), "2"),
        (D("1.50"), "1"),
        (D("1.00"), "1"),
        (None, None),
    ],
    ids=str,
)
def test_suggest_with_default_thresholds(average, expected):
    assert suggest_term_grade(average, DEFAULT) == expected


CUSTOM = ((D("5.5"), "6"), (D("4.5"), "5"), (D("0"), "1"))


@pytest.mark.parametrize(
    "thresholds",
    list(itertools.permutations(CUSTOM)),
    ids=lambda t: "-".join(g for _, g in t),
)
@pytest.mark.parametrize(
    ("average", "expected"),
    [(D("5.50"), "6"), (D("5.49"), "5"), (D("4.50"), "5"), (D("4.49"), "1"), (D("1.00"), "1"), (None, None)],
    ids=str,
)
def test_suggest_with_custom_thresholds_in_any_order(thresholds, average, expected):
    assert suggest_term_grade(average, GradeSettings(thresholds=thresholds)) == expected


def test_default_thresholds_are_the_documented_ones():
    # DOMAIN.md: "4.51–5.30 → 5"
    assert dict((g, t) for t, g in DEFAULT_THRESHOLDS)["5"] == D("4.51")


# --- overall_average --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject_averages", "expected"),
    [
        # (4.46 + 3.89 + 5.01) / 3 = 13.36 / 3 = 4.4533… → 4.45
        ([D("4.46"), D("3.89"), D("5.01")], D("4.45")),
        # None ignored: (4.00 + 5.00) / 2 = 9 / 2 = 4.50
        ([D("4.00"), None, D("5.00"), None], D("4.50")),
        # exact half cent: (4.00 + 4.25) / 2 = 8.25 / 2 = 4.125 → 4.13 (half up)
        ([D("4.00"), D("4.25")], D("4.13")),
        # (2.67 + 2.68) / 2 = 5.35 / 2 = 2.675 → 2.68 (half up)
        ([D("2.67"), D("2.68")], D("2.68")),
        # one subject: 3.5 → 3.50
        ([None, D("3.5")], D("3.50")),
        ([None, None], None),
        ([], None),
    ],
    ids=["three", "none ignored", "half up 4.125", "half up 2.675", "single", "all none", "empty"],
)
def test_overall_average(subject_averages, expected):
    result = overall_average(subject_averages)
    if expected is None:
        assert result is None
    else:
        assert result == expected
        assert result.as_tuple().exponent == -2


def test_overall_average_accepts_a_generator():
    # (5 + 4) / 2 = 4.50
    assert overall_average(a for a in [D("5"), None, D("4")]) == D("4.50")
