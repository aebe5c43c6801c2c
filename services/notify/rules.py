"""Who gets which alert and when (domain; no framework imports)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from platform_kit.errors import InvalidArgument

# The events a person can turn SMS on for (API names).
EVENTS = (
    "grade_recorded",
    "grade_changed",
    "term_grade_set",
    "absence_recorded",
    "excuse_decided",
    "message_received",
    "announcement_published",
    "access_extended",
    "access_expiring",
)
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Settings:
    sms_enabled: bool = False
    phone: str = ""
    events: tuple[str, ...] = ()
    quiet_from: str | None = None
    quiet_to: str | None = None

    def wants(self, event: str) -> bool:
        return self.sms_enabled and event in self.events


def check_settings(settings: Settings) -> Settings:
    problems = {}
    unknown = [e for e in settings.events if e not in EVENTS]
    if unknown:
        problems["events"] = f"Dostępne: {', '.join(EVENTS)}."
    if (settings.quiet_from is None) != (settings.quiet_to is None):
        problems["quiet_hours"] = "Podaj początek i koniec ciszy albo żadnego."
    for field, value in (("quiet_hours.from", settings.quiet_from), ("quiet_hours.to", settings.quiet_to)):
        if value is not None and not _HHMM.match(value):
            problems[field] = "Godzina w postaci GG:MM."
    if problems:
        raise InvalidArgument("niepoprawne ustawienia powiadomień", field_errors=problems)
    return settings


def _at(day, hhmm: str) -> datetime:
    hours, minutes = (int(p) for p in hhmm.split(":"))
    return datetime.combine(day, time(hours, minutes))


def quiet_until(now_local: datetime, quiet_from: str | None, quiet_to: str | None) -> datetime | None:
    """When the quiet hours around `now_local` (school time, naive) end; None outside them.
    A window may cross midnight (21:00–07:00)."""
    if not quiet_from or not quiet_to or quiet_from == quiet_to:
        return None
    start, end = _at(now_local.date(), quiet_from), _at(now_local.date(), quiet_to)
    if start < end:  # e.g. 13:00–15:00
        return end if start <= now_local < end else None
    if now_local >= start:  # crosses midnight, evening part
        return end + timedelta(days=1)
    if now_local < end:  # crosses midnight, morning part
        return end
    return None


def absence_text_parts(details: dict[str, dict]) -> list[tuple[str, list[tuple[int, str]]]]:
    """The students of an absence alert with their lessons, in a stable order."""
    return [(s["name"], sorted((int(n), subject) for n, subject in s["lessons"].items())) for s in sorted(details.values(), key=lambda s: s["name"])]
