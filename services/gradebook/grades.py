"""Grade values as Polish schools write them (domain rules; no framework imports)."""
from __future__ import annotations

import re

from platform_kit.errors import InvalidArgument

# Non-numeric marks: plus, minus, unprepared, no homework, not classified, exempt. Never averaged.
MARKS = frozenset({"+", "-", "np", "bz", "nk", "zw"})
_NUMERIC = re.compile(r"^([1-6])([+-]?)$")


TERM_GRADE_VALUES = ("1", "2", "3", "4", "5", "6", "nk", "zw")  # nk: not classified, zw: exempt
TERM_GRADE_KINDS = ("semester_proposed", "semester_final", "annual_proposed", "annual_final")


def normalise_grade_value(raw: str, allowed_marks: frozenset[str] = MARKS, field: str = "value") -> str:
    """The canonical spelling of a grade (`4+`, `5`, `np`), or InvalidArgument naming `field`."""
    value = (raw or "").strip().lower()
    if value in MARKS and value in allowed_marks:
        return value
    match = _NUMERIC.match(value)
    if match and value not in ("1-", "6+"):
        return value
    marks = ", ".join(sorted(allowed_marks))
    raise InvalidArgument(
        "niepoprawna ocena",
        field_errors={field: f"Ocena musi mieć postać 1–6 z opcjonalnym + lub − albo być jednym z: {marks}."},
    )


def normalise_term_grade(raw: str) -> str:
    value = (raw or "").strip().lower()
    if value not in TERM_GRADE_VALUES:
        raise InvalidArgument("niepoprawna ocena okresowa", field_errors={"value": "Ocena okresowa: 1–6, nk (nieklasyfikowany) lub zw (zwolniony)."})
    return value
