"""Attendance rules: the percentage, the week's lessons from a timetable, excuses and deadlines."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from platform_kit.errors import Conflict, InvalidArgument
from services.attendance import rules


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({"present": 15, "absent": 1}, Decimal("93.75")),  # 15 / 16
        ({"present": 10, "late": 2, "absent": 3, "excused": 1}, Decimal("75.00")),  # 12 / 16
        ({"present": 9, "released": 5, "absent": 1}, Decimal("90.00")),  # released in neither
        ({"school_absence": 3, "excused": 1}, Decimal("75.00")),  # a school trip counts as attended
        ({"late": 2}, Decimal("100.00")),  # late is present
        ({"present": 2, "absent": 1}, Decimal("66.67")),  # two places, half up
        ({"released": 4}, None),
        ({}, None),
    ],
)
def test_percent_present_follows_the_published_rule(counts, expected):
    assert rules.percent_present(counts) == expected


def test_a_schools_own_types_count_as_their_category():
    counts = rules.counts_by_category(["present", "trip", "absent", "trip", "late"], {"trip": "school_absence"})
    assert counts == {"present": 1, "school_absence": 2, "absent": 1, "late": 1}
    assert rules.percent_present(counts) == Decimal("80.00")


def test_a_timetable_gives_each_weekday_its_lessons_from_its_first_valid_day():
    slots = [rules.Slot(1, 1, "mat", "t1"), rules.Slot(3, 2, "fiz", "t2"), rules.Slot(5, 8, "wf", "t3")]
    monday = date(2026, 11, 30)
    lessons = rules.week_lessons(slots, monday, valid_from=monday)
    assert [(d.isoformat(), s.lesson_no, s.subject_id) for d, s in lessons] == [
        ("2026-11-30", 1, "mat"), ("2026-12-02", 2, "fiz"), ("2026-12-04", 8, "wf"),
    ]
    from_wednesday = rules.week_lessons(slots, monday, valid_from=date(2026, 12, 2))
    assert [s.subject_id for _, s in from_wednesday] == ["fiz", "wf"]


def test_monday_of_any_day():
    assert rules.monday_of(date(2026, 12, 6)) == date(2026, 11, 30)  # Sunday
    assert rules.monday_of(date(2026, 11, 30)) == date(2026, 11, 30)


def test_a_timetable_with_clashes_or_impossible_slots_is_refused():
    with pytest.raises(InvalidArgument) as caught:
        rules.check_timetable([rules.Slot(1, 1, "a", "t"), rules.Slot(1, 1, "b", "t"), rules.Slot(8, 1, "c", "t"), rules.Slot(2, 11, "d", "t")], 10)
    assert set(caught.value.field_errors) == {"entries[1]", "entries[2].weekday", "entries[3].lesson_no"}


def test_an_excuse_is_decided_once():
    assert rules.decide(rules.PENDING, rules.ACCEPTED) == rules.ACCEPTED
    assert rules.decide(rules.PENDING, rules.REJECTED) == rules.REJECTED
    for decided in (rules.ACCEPTED, rules.REJECTED):
        with pytest.raises(Conflict):
            rules.decide(decided, rules.ACCEPTED)
    with pytest.raises(InvalidArgument):
        rules.decide(rules.PENDING, "maybe")


@pytest.mark.parametrize(
    ("days_ago", "deadline", "allowed"),
    [(0, 7, True), (7, 7, True), (8, 7, False), (13, 14, True), (15, 14, False), (-1, 7, False)],
)
def test_absences_are_excused_within_the_schools_deadline(days_ago, deadline, allowed):
    today = date(2026, 12, 4)
    assert rules.within_deadline(today - timedelta(days=days_ago), today, deadline) is allowed
