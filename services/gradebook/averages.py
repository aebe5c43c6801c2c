"""Weighted averages, semesters and term-grade suggestions (domain rules; no framework imports).

Weighted average = Σ(value × weight) / Σ(weight) over the grades that count: numeric grades in
a category that counts to the average. Marks (+, -, np, bz, nk, zw) and point grades never
count. When a grade was improved (poprawa), the school decides whether the original still counts.
A subject with nothing that counts has no average (None), never 0.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from services.gradebook.grades import MARKS

TWO_PLACES = Decimal("0.01")

# The usual Polish thresholds ("4.51–5.30 → 5"): the lowest average that suggests each grade.
DEFAULT_THRESHOLDS: tuple[tuple[Decimal, str], ...] = (
    (Decimal("5.31"), "6"),
    (Decimal("4.51"), "5"),
    (Decimal("3.51"), "4"),
    (Decimal("2.51"), "3"),
    (Decimal("1.51"), "2"),
    (Decimal("0"), "1"),
)


@dataclass(frozen=True)
class GradeSettings:
    """A school's grading rules (per-school data; these are the defaults)."""

    plus: Decimal = Decimal("0.5")  # Librus reads 4+ as 4.5; Vulcan uses 0.33
    minus: Decimal = Decimal("0.25")  # and 4- as 3.75; Vulcan 0.33
    improved_original_counts: bool = False
    thresholds: tuple[tuple[Decimal, str], ...] = DEFAULT_THRESHOLDS
    allowed_marks: frozenset[str] = field(default_factory=lambda: frozenset(MARKS))
    second_semester_starts: tuple[int, int] = (2, 1)  # (month, day); the school year starts 1 September


@dataclass(frozen=True)
class CountedGrade:
    """What an average needs to know about one grade."""

    id: str
    value: str
    weight: int
    counts_to_average: bool
    issued_on: date
    improves_grade_id: str | None = None
    is_points: bool = False


def grade_number(value: str, settings: GradeSettings) -> Decimal | None:
    """`4+` → 4.5, `4-` → 3.75, `5` → 5 (with the default modifiers); marks → None."""
    if not value or value in MARKS or not value[0].isdigit():
        return None
    number = Decimal(value[0])
    if value.endswith("+"):
        number += settings.plus
    elif value.endswith("-"):
        number -= settings.minus
    return number


def weighted_average(
    grades: Iterable[CountedGrade], settings: GradeSettings, improved: frozenset[str] | None = None
) -> Decimal | None:
    """`improved`: ids of grades improved by a later grade (default: as seen among `grades`)."""
    grades = list(grades)
    if improved is None:
        improved = frozenset(g.improves_grade_id for g in grades if g.improves_grade_id)
    total = Decimal(0)
    weights = 0
    for grade in grades:
        if grade.is_points or not grade.counts_to_average or grade.weight <= 0:
            continue
        if grade.id in improved and not settings.improved_original_counts:
            continue
        number = grade_number(grade.value, settings)
        if number is None:
            continue
        total += number * grade.weight
        weights += grade.weight
    if weights == 0:
        return None
    return (total / weights).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def school_year_of(day: date) -> str:
    """`2026/2027` for any day from 1 September 2026 to 31 August 2027."""
    start = day.year if day.month >= 9 else day.year - 1
    return f"{start}/{start + 1}"


def semester_of(day: date, settings: GradeSettings) -> int:
    start = day.year if day.month >= 9 else day.year - 1
    month, day_of_month = settings.second_semester_starts
    return 2 if day >= date(start + 1, month, day_of_month) else 1


def averages(grades: Iterable[CountedGrade], settings: GradeSettings) -> dict[str, Decimal | None]:
    """Averages of one subject in one school year: each semester and the whole year."""
    grades = list(grades)
    improved = frozenset(g.improves_grade_id for g in grades if g.improves_grade_id)
    # Each grade counts in the semester it was given; an improved original drops out wherever it is.
    by_semester = {1: [], 2: []}
    for grade in grades:
        by_semester[semester_of(grade.issued_on, settings)].append(grade)
    return {
        "semester_1": weighted_average(by_semester[1], settings, improved),
        "semester_2": weighted_average(by_semester[2], settings, improved),
        "year": weighted_average(grades, settings, improved),
    }


def suggest_term_grade(average: Decimal | None, settings: GradeSettings) -> str | None:
    """The grade the school's thresholds suggest for `average`; the teacher always decides."""
    if average is None:
        return None
    for lowest, grade in sorted(settings.thresholds, key=lambda t: t[0], reverse=True):
        if average >= lowest:
            return grade
    return None


def overall_average(subject_averages: Iterable[Decimal | None]) -> Decimal | None:
    """The student's overall average: the mean of the subjects that have one."""
    present = [a for a in subject_averages if a is not None]
    if not present:
        return None
    return (sum(present) / len(present)).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)
