"""SMS texts: one template per event, the child always named, counted in GSM-7 or UCS-2 parts."""
from __future__ import annotations

import math
from dataclasses import dataclass

# GSM 03.38 basic alphabet and the extension table (an extension character costs two septets).
_GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = set("^{}\\[~]|€\f")
_POLISH = str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ„”–—", "acelnoszzACELNOSZZ\"\"--")

TEMPLATES = {
    "grade_recorded": "Dziennik: {student} otrzymał(a) ocenę {value} z przedmiotu {subject}.",
    # {absences}: "Zosia Kowalska – lekcje 1 (Matematyka), 2 (Fizyka); Staś Kowalski – lekcja 3 (WF)"
    "absence_recorded": "Dziennik: nieobecność {date}: {absences}.",
    "grade_changed": "Dziennik: zmieniono ocenę {student} z przedmiotu {subject}: {old} na {new}.",
    "term_grade_set": "Dziennik: {student}, {subject} – {term}: {value}.",
    "excuse_decided": "Dziennik: usprawiedliwienie nieobecności {student} zostało {decision}.",
    "message_received": "Dziennik: nowa wiadomość od {sender}: {subject}",
    "access_extended": "Dziennik: dziękujemy! Dostęp rozszerzony dla {student} jest aktywny do {date}.",
    "access_extended.sms_alerts": "Dziennik: dziękujemy! Powiadomienia SMS o {student} są aktywne do {date}.",
    # {students}: the first names of the person's children the announcement concerns.
    "announcement_published": "Dziennik: ogłoszenie szkoły ({students}): „{title}”. Szczegóły w dzienniku.",
    "access_expiring": "Dziennik: dostęp rozszerzony dla {student} kończy się {date}. Przedłużysz go w zakładce Płatności.",
}


@dataclass(frozen=True)
class SmsText:
    body: str
    encoding: str  # "GSM-7" or "UCS-2"
    parts: int


def transliterate(text: str) -> str:
    return text.translate(_POLISH)


def measure(body: str) -> SmsText:
    """How many parts `body` takes: 160/153 septets in GSM-7, 70/67 characters in UCS-2."""
    if all(ch in _GSM7_BASIC or ch in _GSM7_EXTENDED for ch in body):
        length = sum(2 if ch in _GSM7_EXTENDED else 1 for ch in body)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        length = len(body.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    parts = 1 if length <= single else math.ceil(length / multi)
    return SmsText(body, encoding, parts)


def render(kind: str, *, polish_characters: bool = False, **values: str) -> SmsText:
    body = TEMPLATES[kind].format(**values)
    return measure(body if polish_characters else transliterate(body))


def absences_phrase(students: list[tuple[str, list[tuple[int, str]]]]) -> str:
    parts = []
    for name, lessons in students:
        word = "lekcja" if len(lessons) == 1 else "lekcje"
        parts.append(f"{name} – {word} " + ", ".join(f"{number} ({subject})" for number, subject in lessons))
    return "; ".join(parts)
