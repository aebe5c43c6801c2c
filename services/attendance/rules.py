"""Attendance rules (domain; no framework imports): statuses, the percentage, the week's lessons
from a timetable, excuses and their deadline."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from platform_kit.errors import Conflict, InvalidArgument

# Standard statuses (Vulcan/Librus symbols: ob, nb, sp, u, zw, ns). Schools add their own types,
# each counting as one of these.
STATUSES = ("present", "absent", "late", "excused", "released", "school_absence")
ABSENCES = ("absent", "late")  # what a parent is alerted about
ATTENDED = ("present", "late", "school_absence")
MISSED = ("absent", "excused")  # released lessons count in neither

DEFAULT_LESSON_HOURS = (
    "08:00-08:45", "08:55-09:40", "09:50-10:35", "10:55-11:40", "11:50-12:35",
    "12:45-13:30", "13:40-14:25", "14:35-15:20", "15:30-16:15", "16:25-17:10",
)


def percent_present(counts: Mapping[str, int]) -> Decimal | None:
    """Vulcan's published rule: attended = present + late + school_absence; missed = absent +
    excused; released counts in neither; % = attended / (attended + missed) × 100, two places.
    None when no lesson counts."""
    attended = sum(counts.get(s, 0) for s in ATTENDED)
    missed = sum(counts.get(s, 0) for s in MISSED)
    if attended + missed == 0:
        return None
    return (Decimal(attended * 100) / (attended + missed)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class Slot:
    """One line of a class's timetable."""

    weekday: int  # 1 = Monday
    lesson_no: int
    subject_id: str
    teacher_id: str
    room: str = ""


def check_timetable(slots: Iterable[Slot], lessons_per_day: int) -> list[Slot]:
    slots = list(slots)
    problems = {}
    seen = set()
    for index, slot in enumerate(slots):
        if not 1 <= slot.weekday <= 7:
            problems[f"entries[{index}].weekday"] = "Dzień tygodnia od 1 (poniedziałek) do 7."
        if not 1 <= slot.lesson_no <= lessons_per_day:
            problems[f"entries[{index}].lesson_no"] = f"Numer lekcji od 1 do {lessons_per_day}."
        if (slot.weekday, slot.lesson_no) in seen:
            problems[f"entries[{index}]"] = "Dwie lekcje tej klasy w tym samym czasie."
        seen.add((slot.weekday, slot.lesson_no))
    if problems:
        raise InvalidArgument("niepoprawny plan lekcji", field_errors=problems)
    return slots


def week_lessons(slots: Iterable[Slot], monday: date, valid_from: date) -> list[tuple[date, Slot]]:
    """The lessons a timetable gives in the week starting `monday`, from `valid_from` on."""
    lessons = []
    for slot in slots:
        day = monday + timedelta(days=slot.weekday - 1)
        if day >= valid_from:
            lessons.append((day, slot))
    return sorted(lessons, key=lambda item: (item[0], item[1].lesson_no))


# -- excuses ------------------------------------------------------------------------------------

PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"
DECISIONS = (ACCEPTED, REJECTED)


def decide(status: str, decision: str) -> str:
    """pending → accepted | rejected; a decided excuse stays decided."""
    if decision not in DECISIONS:
        raise InvalidArgument("nieznana decyzja", field_errors={"decision": "accepted albo rejected."})
    if status != PENDING:
        raise Conflict("to usprawiedliwienie zostało już rozpatrzone")
    return decision


def within_deadline(lesson_day: date, today: date, deadline_days: int) -> bool:
    """An absence can be excused for `deadline_days` days after it (the school's 7 or 14)."""
    return today - timedelta(days=deadline_days) <= lesson_day <= today


def counts_by_category(statuses: Iterable[str], type_categories: Mapping[str, str]) -> dict[str, int]:
    """Counts of standard statuses, with each school-defined type counted as its category."""
    counts: dict[str, int] = {}
    for status in statuses:
        category = status if status in STATUSES else type_categories.get(status, status)
        counts[category] = counts.get(category, 0) + 1
    return counts
