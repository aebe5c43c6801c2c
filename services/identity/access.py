"""Access tiers (domain rules; no framework imports).

Which features need extended access is a per-school policy. The presets below are the starting
data a school's policy is made from; the school row keeps its own list of features.
"""
from __future__ import annotations

import calendar
from datetime import date, timedelta

FEATURES = ("grades", "attendance", "sms_alerts")

PRESETS: dict[str, tuple[str, ...]] = {
    # The brochure: grades and attendance online are the paid, extended access.
    "brochure": ("grades", "attendance"),
    # Polish law since 2015 (MEN regulation § 21): register data free; extended access for add-ons.
    "statutory": ("sms_alerts",),
}
DEFAULT_POLICY = "brochure"
# Products billing sells that identity turns into access: extended access itself, and add-ons
# bought on their own (each with its own end date per holder and student).
EXTENDED_ACCESS = "extended_access"
ADD_ONS = ("sms_alerts",)


def sms_allowed(extended_features: list[str] | tuple[str, ...], extended: bool, sms_add_on: bool) -> bool:
    """May a holder get SMS alerts about a student? SMS alerts are an additional service: the
    sms_alerts add-on always allows them; extended access allows them where the school's policy
    reserves SMS alerts for extended access (the `statutory` preset)."""
    return sms_add_on or ("sms_alerts" in extended_features and extended)


def add_months(day: date, months: int) -> date:
    """`day` moved by whole months, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def extended_until(current: date | None, today: date, months: int) -> date:
    """The last day of extended access after paying for `months` today.

    A period starts today, or — when paying again before the current access ends — the day after
    it ends, so a renewal never loses paid days. 12 months from 4 Dec 2026 last until 3 Dec 2027.
    """
    start = current + timedelta(days=1) if current is not None and current >= today else today
    return add_months(start, months) - timedelta(days=1)


def is_extended(valid_until: date | None, today: date) -> bool:
    return valid_until is not None and valid_until >= today
