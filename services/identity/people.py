"""Rules about people's data: roles, logins, phone numbers, passwords (no framework imports)."""
from __future__ import annotations

import re
import unicodedata

from platform_kit.errors import InvalidArgument
from services.identity.guessing import GuessEstimator

# At least 10^8 guesses by zxcvbn's estimate ("safely unguessable"): any 8 random characters
# pass, a common word with digits or a name with a year does not.
MIN_GUESSES_LOG10 = 8
# zxcvbn's word lists live in a helper process while passwords are being set (guessing.py).
GUESSES = GuessEstimator()

ROLES = ("superadmin", "school_admin", "principal", "teacher", "parent", "student")
STAFF_ROLES = ("school_admin", "principal", "teacher")
# Staff must use a second factor (the January 2026 takeovers used leaked passwords).
MFA_ROLES = ("superadmin", "school_admin", "principal", "teacher")
SCHOOL_YEAR = re.compile(r"^(\d{4})/(\d{4})$")
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


def check_password(password: str, *, personal: tuple[str, ...] = ()) -> None:
    """NIST SP 800-63B / OWASP ASVS: 8–64 characters, and not guessable — zxcvbn with Polish
    dictionaries (common words, names, places) and the account's own data (`personal`)."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidArgument(
            "hasło nie spełnia wymagań",
            code="weak_password",
            field_errors={"password": f"Hasło musi mieć od {PASSWORD_MIN} do {PASSWORD_MAX} znaków."},
        )
    # The person's data as written and without Polish letters: "Brzęczyszczykiewicz" is typed both ways.
    inputs = {form for p in personal if p for form in (p, ascii_fold(p)) if form}
    if GUESSES.guesses_log10(password, sorted(inputs)) < MIN_GUESSES_LOG10:
        raise InvalidArgument(
            "hasło jest zbyt łatwe do odgadnięcia",
            code="weak_password",
            field_errors={"password": "Hasło jest zbyt popularne lub łatwe do odgadnięcia. Użyj kilku niezwiązanych słów."},
        )


def check_name(field: str, value: str) -> str:
    value = (value or "").strip()
    if not 1 <= len(value) <= 100:
        raise InvalidArgument("niepoprawne dane", field_errors={field: "Od 1 do 100 znaków."})
    return value


def check_school_year(value: str) -> str:
    match = SCHOOL_YEAR.match((value or "").strip())
    if not match or int(match.group(2)) != int(match.group(1)) + 1:
        raise InvalidArgument("niepoprawny rok szkolny", field_errors={"school_year": "Rok szkolny w postaci 2026/2027."})
    return match.group(0)


def check_class_name(value: str) -> str:
    value = (value or "").strip()
    if not 1 <= len(value) <= 20:
        raise InvalidArgument("niepoprawna nazwa klasy", field_errors={"name": "Nazwa klasy: od 1 do 20 znaków, np. 1A."})
    return value


_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


def check_email(value: str) -> str:
    """Empty (no e-mail) or a plausible address, lower-cased."""
    value = (value or "").strip().lower()
    if value and (len(value) > 254 or not _EMAIL.match(value)):
        raise InvalidArgument("niepoprawny e-mail", field_errors={"email": "Podaj poprawny adres e-mail."})
    return value
