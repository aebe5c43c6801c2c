"""Billing rules (domain; no framework imports): TRANSACTION numbers with a check digit, the
transfer title that fits a payment slip and the payment QR code, PayU's notification signature,
and the order's state machine."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata

from platform_kit.errors import Conflict

PREFIX = "DZ"
SLIP_ROW = 27  # characters in one row of a Polish payment slip
QR_TITLE = 32  # characters of the title in the ZBP 2D payment code


def luhn_digit(digits: str) -> str:
    """The Luhn check digit of `digits`: catches any single wrong digit and most swaps of neighbours."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def new_transaction_number() -> str:
    """`DZ` + 8 random digits + a check digit: 11 characters, fixed width."""
    body = f"{secrets.randbelow(10**8):08d}"
    return f"{PREFIX}{body}{luhn_digit(body)}"


_NUMBER = re.compile(rf"{PREFIX}\s*(\d{{8}})\s*(\d)", re.IGNORECASE)


def is_valid_transaction_number(text: str) -> bool:
    match = _NUMBER.fullmatch(text.strip())
    return bool(match) and luhn_digit(match.group(1)) == match.group(2)


def find_transaction_numbers(text: str) -> list[str]:
    """Every well-formed number with a correct check digit in a transfer title (banks add spaces)."""
    joined = re.sub(r"(?<=[\dZz])\s+(?=\d)", "", text or "")  # "DZ 1234 5678 9" → "DZ123456789"
    return [f"{PREFIX}{body}{check}" for body, check in _NUMBER.findall(joined) if luhn_digit(body) == check]


def plain_upper(text: str) -> str:
    """`Zofia Żółkiewska` → `ZOFIA ZOLKIEWSKA`: what banks and slips keep of a name."""
    text = text.translate(str.maketrans("łŁ", "lL"))
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().upper()


def transfer_title(transaction_number: str, first_name: str, last_name: str) -> str:
    """The title the parent writes: the TRANSACTION number first (so it survives any cut), then
    the student's name, at most 32 characters (the QR code's limit, two slip rows)."""
    return f"{transaction_number} {plain_upper(first_name)} {plain_upper(last_name)}"[:QR_TITLE].rstrip()


def slip_rows(title: str) -> list[str]:
    """The title split into payment-slip rows of at most 27 characters, at spaces where possible."""
    rows, row = [], ""
    for word in title.split():
        candidate = f"{row} {word}".strip()
        if len(candidate) <= SLIP_ROW:
            row = candidate
            continue
        if row:
            rows.append(row)
        while len(word) > SLIP_ROW:
            rows.append(word[:SLIP_ROW])
            word = word[SLIP_ROW:]
        row = word
    if row:
        rows.append(row)
    return rows


# -- PayU -------------------------------------------------------------------------------------------

_HASHES = {"MD5": hashlib.md5, "SHA256": hashlib.sha256, "SHA-256": hashlib.sha256, "SHA384": hashlib.sha384, "SHA512": hashlib.sha512}


def parse_signature_header(header: str) -> dict[str, str]:
    """`sender=checkout;signature=…;algorithm=MD5;content=DOCUMENT` → its parts."""
    parts = {}
    for item in (header or "").split(";"):
        key, _, value = item.partition("=")
        if key.strip():
            parts[key.strip().lower()] = value.strip()
    return parts


def payu_signature(body: bytes, second_key: str, algorithm: str = "MD5") -> str:
    """hex(HASH(raw body + second key)), HASH named by the header's `algorithm`."""
    hash_function = _HASHES.get(algorithm.upper())
    if hash_function is None:
        raise ValueError(f"unsupported signature algorithm {algorithm!r}")
    return hash_function(body + second_key.encode()).hexdigest()


def verify_payu_signature(body: bytes, header: str, second_key: str) -> bool:
    parts = parse_signature_header(header)
    try:
        expected = payu_signature(body, second_key, parts.get("algorithm", "MD5"))
    except ValueError:
        return False
    return hmac.compare_digest(expected, parts.get("signature", "").lower())


# -- the order's life ----------------------------------------------------------------------------------

PENDING, PAID, CANCELLED, REFUNDED = "pending", "paid", "cancelled", "refunded"
TRANSITIONS = {PENDING: {PAID, CANCELLED}, PAID: {REFUNDED}, CANCELLED: set(), REFUNDED: set()}


def next_status(current: str, wanted: str) -> str:
    if wanted not in TRANSITIONS.get(current, set()):
        raise Conflict(f"zamówienie w stanie {current} nie może przejść w {wanted}")
    return wanted
