"""Grade values as Polish schools write them (domain rules; no framework imports)."""
from __future__ import annotations

import re

from platform_kit.errors import InvalidArgument

# Non-numeric marks: plus, minus, unprepared, no homework, not classified, exempt. Never averaged.
MARKS = frozenset({"+", "-", "np", "bz", "nk", "zw"})
_NUMERIC = re.compile(r"^([1-6])([+-]?)$")


def normalise_grade_value(raw: str) -> str:
    """The canonical spelling of a grade (`4+`, `5`, `np`), or InvalidArgument naming `value`."""
    value = (raw or "").strip().lower()
    if value in MARKS:
        return value
    match = _NUMERIC.match(value)
    if match and value not in ("1-", "6+"):
        return value
    raise InvalidArgument(
        "niepoprawna ocena",
        field_errors={"value": "Ocena musi mieć postać 1–6 z opcjonalnym + lub − albo być jednym z: +, -, np, bz, nk, zw."},
    )
