"""Extended access as domain rules (services/identity/access.py): whole-month arithmetic, how
long a paid period lasts, renewals counted from the current end, and the policy presets."""
from __future__ import annotations

from datetime import date

import pytest

from services.identity.access import DEFAULT_POLICY, FEATURES, PRESETS, add_months, extended_until, is_extended, sms_allowed

# -- add_months ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2027, 1, 15), 1, date(2027, 2, 15)),
        (date(2027, 1, 31), 1, date(2027, 2, 28)),  # clamped to the end of February
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # a leap year has 29 February
        (date(2027, 3, 31), 1, date(2027, 4, 30)),
        (date(2026, 12, 4), 1, date(2027, 1, 4)),  # December → January of the next year
        (date(2026, 12, 31), 1, date(2027, 1, 31)),
        (date(2026, 11, 30), 2, date(2027, 1, 30)),
        (date(2026, 12, 4), 12, date(2027, 12, 4)),
        (date(2027, 12, 31), 2, date(2028, 2, 29)),
        (date(2028, 2, 29), 12, date(2029, 2, 28)),  # no 29 February next year
        (date(2028, 2, 29), 48, date(2032, 2, 29)),
        (date(2027, 5, 20), 0, date(2027, 5, 20)),
        (date(2027, 5, 20), 25, date(2029, 6, 20)),
    ],
)
def test_add_months(day, months, expected):
    assert add_months(day, months) == expected


# -- extended_until ----------------------------------------------------------------------------------


def test_a_first_payment_lasts_twelve_months_counting_the_day_of_payment():
    assert extended_until(None, date(2026, 12, 4), 12) == date(2027, 12, 3)


def test_paying_again_while_still_valid_extends_from_the_current_end_not_from_today():
    assert extended_until(date(2027, 12, 3), date(2027, 6, 1), 12) == date(2028, 12, 3)


def test_paying_after_the_access_ended_starts_a_new_period_today():
    assert extended_until(date(2027, 1, 1), date(2027, 3, 10), 12) == date(2028, 3, 9)


def test_paying_on_the_last_valid_day_extends_from_the_end():
    assert extended_until(date(2027, 12, 3), date(2027, 12, 3), 12) == date(2028, 12, 3)


def test_paying_the_day_after_the_end_starts_today_and_loses_nothing():
    assert extended_until(date(2027, 12, 3), date(2027, 12, 4), 12) == date(2028, 12, 3)


def test_two_payments_in_a_row_give_twenty_four_months():
    first = extended_until(None, date(2026, 12, 4), 12)
    assert extended_until(first, date(2026, 12, 4), 12) == date(2028, 12, 3)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2027, 1, 31), date(2028, 1, 30)),
        (date(2028, 2, 29), date(2029, 2, 27)),  # [29 Feb 2028, 28 Feb 2029): 365 days
        (date(2027, 3, 1), date(2028, 2, 29)),  # through the leap day
    ],
)
def test_twelve_months_around_month_ends_and_leap_days(today, expected):
    until = extended_until(None, today, 12)
    assert until == expected
    assert (until - today).days + 1 in (365, 366)


# -- is_extended ---------------------------------------------------------------------------------------


def test_access_valid_until_today_is_still_extended():
    assert is_extended(date(2027, 12, 3), date(2027, 12, 3)) is True


def test_access_that_ended_yesterday_is_not_extended():
    assert is_extended(date(2027, 12, 2), date(2027, 12, 3)) is False


def test_access_valid_in_the_future_is_extended():
    assert is_extended(date(2028, 1, 1), date(2027, 12, 3)) is True


def test_no_access_at_all_is_not_extended():
    assert is_extended(None, date(2027, 12, 3)) is False


# -- presets -----------------------------------------------------------------------------------------


def test_the_brochure_preset_puts_grades_and_attendance_behind_extended_access():
    assert "grades" in PRESETS["brochure"]
    assert "attendance" in PRESETS["brochure"]


def test_the_statutory_preset_keeps_register_data_free_and_reserves_only_sms_alerts():
    assert "grades" not in PRESETS["statutory"]
    assert "attendance" not in PRESETS["statutory"]
    assert tuple(PRESETS["statutory"]) == ("sms_alerts",)


def test_presets_name_only_known_features_and_the_default_is_the_brochure():
    assert DEFAULT_POLICY == "brochure"
    for features in PRESETS.values():
        assert set(features) <= set(FEATURES)


@pytest.mark.parametrize(
    ("policy", "extended", "add_on", "allowed"),
    [
        ("brochure", False, False, False),
        ("brochure", True, False, False),  # extended access is for grades and attendance, SMS is an add-on
        ("brochure", False, True, True),
        ("statutory", False, False, False),
        ("statutory", True, False, True),  # the statutory school reserves extended access for SMS
        ("statutory", False, True, True),  # the add-on alone is enough everywhere
    ],
)
def test_sms_alerts_follow_the_schools_policy(policy, extended, add_on, allowed):
    assert sms_allowed(PRESETS[policy], extended, add_on) is allowed
