"""Bank statements: MT940 and CSV lines, and the matching rule."""
from __future__ import annotations

from datetime import date

from services.billing import money, statements

NUMBER = "DZ12345678" + money.luhn_digit("12345678")


def test_an_mt940_statement_gives_its_incoming_lines_with_title_and_sender():
    data = (
        ":20:X\r\n:25:PL61109010140000071219812874\r\n:28C:1\r\n:60F:C261201PLN0,00\r\n"
        ":61:2612021202CN22,00NTRFNONREF//B1\r\n:86:020~00TRFX~20TYT.: DZ 1234 5678 2~21 ZOFIA ŻÓŁKIEWSKA~32ANNA ŻÓŁKIEWSKA\r\n"
        ":62F:C261202PLN22,00\r\n"
    ).encode("cp1250")
    [line] = statements.parse_statement(data)
    assert (line.day, line.amount, line.counterparty) == (date(2026, 12, 2), 2200, "ANNA ŻÓŁKIEWSKA")
    assert line.title.startswith("TYT.: DZ 1234 5678 2") and "ZOFIA ŻÓŁKIEWSKA" in line.title


def test_a_csv_export_in_windows_1250_with_a_comma_decimal():
    data = "Data operacji;Kwota;Tytuł;Nadawca\n02.12.2026;22,00;Opłata Zofia Żółkiewska;Anna\n".encode("cp1250")
    [line] = statements.parse_statement(data)
    assert (line.day, line.amount, line.title) == (date(2026, 12, 2), 2200, "Opłata Zofia Żółkiewska")


def test_the_same_operation_has_the_same_key_in_any_import():
    one = statements.StatementLine(date(2026, 12, 2), 2200, "T", "A", "R")
    assert one.key == statements.StatementLine(date(2026, 12, 2), 2200, "T", "A", "R").key
    assert one.key != statements.StatementLine(date(2026, 12, 2), 2201, "T", "A", "R").key


def line(amount: int, title: str) -> statements.StatementLine:
    return statements.StatementLine(date(2026, 12, 2), amount, title, "ANNA ZOLKIEWSKA", "R")


def test_matching_needs_the_number_the_name_and_the_exact_amount():
    order = statements.Candidate("o1", NUMBER, 2200, money.PENDING, "Żółkiewska")
    assert statements.judge(line(2200, f"{NUMBER} ZOFIA ZOLKIEWSKA"), order) == "matched"
    assert statements.judge(line(2000, f"{NUMBER} ZOFIA ZOLKIEWSKA"), order) == "review:underpaid"
    assert statements.judge(line(2400, f"{NUMBER} ZOFIA ZOLKIEWSKA"), order) == "review:overpaid"
    stranger = statements.StatementLine(date(2026, 12, 2), 2200, f"{NUMBER} JAN NOWAK", "JAN NOWAK", "R")
    assert statements.judge(stranger, order) == "review:name_differs"
    paid = statements.Candidate("o1", NUMBER, 2200, money.PAID, "Żółkiewska")
    assert statements.judge(line(2200, f"{NUMBER} ZOFIA ZOLKIEWSKA"), paid) == "review:already_settled"
    assert statements.judge(line(2200, "BEZ NUMERU"), None) == "unmatched"
    assert statements.judge(line(-2200, "PRZELEW WYCHODZACY"), None) == "ignored"
