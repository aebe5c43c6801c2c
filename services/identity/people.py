"""Rules about people's data: roles, logins, phone numbers, passwords (no framework imports)."""
from __future__ import annotations

import re
import unicodedata

from platform_kit.errors import InvalidArgument

ROLES = ("superadmin", "school_admin", "principal", "teacher", "parent", "student")
STAFF_ROLES = ("school_admin", "principal", "teacher")
PASSWORD_MIN, PASSWORD_MAX = 8, 64

_POLISH = str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")


def ascii_fold(text: str) -> str:
    """`Łucja Żółć` → `Lucja Zolc`: Polish letters (ł has no decomposition) and other accents."""
    text = text.translate(_POLISH)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def login_stem(first_name: str, last_name: str) -> str:
    """`Jan`, `Kowalski-Nowak` → `jan.kowalskinowak`; callers add a number when it is taken."""
    def part(name: str) -> str:
        return re.sub(r"[^a-z]", "", ascii_fold(name).lower())

    stem = f"{part(first_name)}.{part(last_name)}".strip(".")
    return stem[:50] or "user"


def normalise_phone(raw: str) -> str:
    """E.164; a Polish nine-digit number gets +48. Empty stays empty (no phone)."""
    phone = re.sub(r"[\s()-]", "", raw or "")
    if not phone:
        return ""
    if re.fullmatch(r"\d{9}", phone):
        phone = "+48" + phone
    elif phone.startswith("00"):
        phone = "+" + phone[2:]
    if not _E164.match(phone):
        raise InvalidArgument("niepoprawny numer telefonu", field_errors={"phone": "Podaj numer w formacie +48600100200."})
    return phone


def check_password(password: str) -> None:
    """Length rules of OWASP ASVS; the common-password list arrives with the identity issue."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidArgument(
            "hasło nie spełnia wymagań",
            code="weak_password",
            field_errors={"password": f"Hasło musi mieć od {PASSWORD_MIN} do {PASSWORD_MAX} znaków."},
        )


def check_name(field: str, value: str) -> str:
    value = (value or "").strip()
    if not 1 <= len(value) <= 100:
        raise InvalidArgument("niepoprawne dane", field_errors={field: "Od 1 do 100 znaków."})
    return value
