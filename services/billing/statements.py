"""Bank statements as lines to match (adapters: MT940 through the mt-940 package, and banks'
CSV exports), and the matching rule (domain)."""
from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from platform_kit.errors import InvalidArgument
from services.billing import money


@dataclass(frozen=True)
class StatementLine:
    day: date
    amount: int  # grosze; incoming payments are positive
    title: str
    counterparty: str
    reference: str

    @property
    def key(self) -> str:
        """The same bank operation in any later (or overlapping) statement has the same key."""
        raw = f"{self.day.isoformat()}|{self.amount}|{self.reference}|{self.title}|{self.counterparty}"
        return hashlib.sha256(raw.encode()).hexdigest()


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1250", "iso-8859-2", "cp852"):  # Polish banks use all of these
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidArgument("nieznane kodowanie", field_errors={"file": "Wyciąg w UTF-8, Windows-1250, ISO-8859-2 lub CP852."})


_SUBFIELD = re.compile(r"[~<^](\d{2})")


def _details(raw: str) -> tuple[str, str]:
    """The :86: field: title (subfields 20–25) and counterparty (32–33) where the bank
    structures it, else the whole text as the title."""
    parts = _SUBFIELD.split(raw or "")
    if len(parts) < 3:
        return " ".join((raw or "").split()), ""
    fields: dict[str, str] = {}
    for code, text in zip(parts[1::2], parts[2::2]):
        fields[code] = fields.get(code, "") + text
    title = "".join(fields.get(str(n), "") for n in range(20, 26))
    counterparty = "".join(fields.get(str(n), "") for n in (32, 33))
    return " ".join(title.split()), " ".join(counterparty.split())


def parse_mt940(data: bytes) -> list[StatementLine]:
    import mt940  # imported here: only an uploaded MT940 statement needs the parser

    transactions = mt940.models.Transactions()
    try:
        transactions.parse(_decode(data))
    except Exception as exc:  # mt-940 raises plain exceptions for malformed files
        raise InvalidArgument("niepoprawny wyciąg MT940", field_errors={"file": f"Nie można odczytać pliku MT940: {exc}"[:300]}) from None
    lines = []
    for transaction in transactions:
        values = transaction.data
        amount = int((values["amount"].amount * 100).to_integral_value())
        title, counterparty = _details(values.get("transaction_details", ""))
        day = values.get("date") or values.get("entry_date")
        lines.append(StatementLine(date(day.year, day.month, day.day), amount, title, counterparty, values.get("bank_reference") or values.get("customer_reference") or ""))
    return lines


_CSV_COLUMNS = {
    "day": ("data operacji", "data księgowania", "data", "date"),
    "amount": ("kwota", "amount"),
    "title": ("tytuł", "tytul", "opis", "title"),
    "counterparty": ("nadawca", "kontrahent", "nadawca/odbiorca", "counterparty"),
    "reference": ("numer referencyjny", "referencje", "reference"),
}


def parse_csv(data: bytes) -> list[StatementLine]:
    text = _decode(data)
    rows = list(csv.reader(io.StringIO(text), delimiter=";" if text.count(";") >= text.count(",") else ","))
    if not rows:
        raise InvalidArgument("pusty wyciąg", field_errors={"file": "Plik nie zawiera operacji."})
    header = [h.strip().lower() for h in rows[0]]
    index = {name: next((header.index(a) for a in aliases if a in header), None) for name, aliases in _CSV_COLUMNS.items()}
    if index["day"] is None or index["amount"] is None or index["title"] is None:
        raise InvalidArgument("nieznany układ CSV", field_errors={"file": "Wymagane kolumny: Data operacji; Kwota; Tytuł (opcjonalnie Nadawca, Numer referencyjny)."})
    lines = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        get = lambda name: row[index[name]].strip() if index[name] is not None and index[name] < len(row) else ""  # noqa: E731
        try:
            day = _date(get("day"))
            amount = int((Decimal(get("amount").replace(" ", "").replace("\xa0", "").replace(",", ".")) * 100).to_integral_value())
        except (ValueError, InvalidOperation):
            raise InvalidArgument("niepoprawny wiersz", field_errors={f"wiersz {number}": "Data RRRR-MM-DD lub DD.MM.RRRR i kwota, np. 22,00."}) from None
        lines.append(StatementLine(day, amount, " ".join(get("title").split()), " ".join(get("counterparty").split()), get("reference")))
    return lines


def _date(text: str) -> date:
    for layout in ("%Y-%m-%d", "%d.%m.%Y", "%d-%m-%Y"):
        try:
            return datetime.strptime(text, layout).date()
        except ValueError:
            continue
    raise ValueError(text)


def parse_statement(data: bytes) -> list[StatementLine]:
    """MT940 when it looks like one (`:20:`/`:61:` tags), else CSV."""
    head = data[:2000]
    return parse_mt940(data) if b":61:" in data and (b":20:" in head or b":25:" in head) else parse_csv(data)


# -- matching --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """An order a line may pay: what matching needs to know."""

    order_id: str
    transaction_number: str
    amount: int
    status: str
    student_last_name: str


def judge(line: StatementLine, candidate: Candidate | None) -> str:
    """`matched` only when the TRANSACTION number (check digit right) names a pending order, the
    student's name confirms it and the amount is exact; anything unsure goes to review."""
    if line.amount <= 0:
        return "ignored"  # outgoing money is not a payment to match
    if candidate is None:
        return "unmatched"
    if candidate.status != money.PENDING:
        return "review:already_settled"
    if money.plain_upper(candidate.student_last_name) not in money.plain_upper(f"{line.title} {line.counterparty}"):
        return "review:name_differs"
    if line.amount < candidate.amount:
        return "review:underpaid"
    if line.amount > candidate.amount:
        return "review:overpaid"
    return "matched"
