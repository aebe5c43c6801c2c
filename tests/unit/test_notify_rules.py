"""Notify's rules: quiet hours, settings, the absence alert's text and its SMS segments."""
from __future__ import annotations

from datetime import datetime

import pytest

from platform_kit.errors import InvalidArgument
from services.notify import rules, texts


@pytest.mark.parametrize(
    ("now", "until"),
    [
        ("2026-12-04 22:30", "2026-12-05 07:00"),  # evening, window crosses midnight
        ("2026-12-05 06:59", "2026-12-05 07:00"),  # early morning
        ("2026-12-05 07:00", None),
        ("2026-12-04 20:59", None),
        ("2026-12-04 21:00", "2026-12-05 07:00"),
    ],
)
def test_quiet_hours_across_midnight(now, until):
    result = rules.quiet_until(datetime.fromisoformat(now), "21:00", "07:00")
    assert result == (datetime.fromisoformat(until) if until else None)


def test_quiet_hours_within_a_day_and_none():
    assert rules.quiet_until(datetime(2026, 12, 4, 13, 30), "13:00", "15:00") == datetime(2026, 12, 4, 15, 0)
    assert rules.quiet_until(datetime(2026, 12, 4, 15, 0), "13:00", "15:00") is None
    assert rules.quiet_until(datetime(2026, 12, 4, 23, 0), None, None) is None


def test_settings_are_checked():
    with pytest.raises(InvalidArgument) as caught:
        rules.check_settings(rules.Settings(True, "+48600100200", ("grade_recorded", "horoscope"), "21:00", None))
    assert set(caught.value.field_errors) == {"events", "quiet_hours"}
    with pytest.raises(InvalidArgument):
        rules.check_settings(rules.Settings(True, "", (), "25:00", "07:00"))
    assert rules.check_settings(rules.Settings(True, "", ("absence_recorded",))).wants("absence_recorded")
    assert not rules.Settings(False, "+48600100200", ("absence_recorded",)).wants("absence_recorded")


def test_one_absence_alert_lists_siblings_and_their_lessons_in_one_gsm7_part():
    details = {
        "s2": {"name": "Staś Kowalski", "lessons": {"3": "Wychowanie fizyczne"}},
        "s1": {"name": "Zosia Kowalska", "lessons": {"2": "Fizyka", "1": "Matematyka"}},
    }
    sms = texts.render("absence_recorded", date="02.12", absences=texts.absences_phrase(rules.absence_text_parts(details)))
    assert sms.body == (
        "Dziennik: nieobecnosc 02.12: Stas Kowalski - lekcja 3 (Wychowanie fizyczne); "
        "Zosia Kowalska - lekcje 1 (Matematyka), 2 (Fizyka)."
    )
    assert (sms.encoding, sms.parts) == ("GSM-7", 1)
    polish = texts.render("absence_recorded", polish_characters=True, date="02.12", absences="Łucja Żółć – lekcja 1 (Język polski)")
    assert polish.encoding == "UCS-2" and polish.parts == 1 and "ąćęłńóśźż" not in polish.body
