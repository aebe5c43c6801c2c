"""Printable billing documents: the payment slip with the ZBP two-dimensional payment code, and
the receipt for cash paid at school (PDF, Polish, DejaVu fonts shipped with attendance's report)."""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from services.billing import money

if TYPE_CHECKING:
    from fpdf import FPDF

FONTS = Path(__file__).resolve().parents[1] / "attendance" / "fonts"


def zbp_payment_code(account_number: str, amount: int, recipient: str, title: str, nip: str = "") -> str:
    """The ZBP recommendation's payment code: NIP|PL|account (26 digits)|amount in grosze (6
    digits)|recipient (20)|title (32)|||. Banking apps fill a transfer from it."""
    digits = re.sub(r"\D", "", account_number)
    if len(digits) != 26:
        raise ValueError("a Polish account number has 26 digits")
    if not 0 < amount <= 999_999:
        raise ValueError("the payment code holds at most 9999.99 zł")
    return f"{nip}|PL|{digits}|{amount:06d}|{money.plain_upper(recipient)[:20]}|{title[:money.QR_TITLE]}|||"


@dataclass(frozen=True)
class SlipData:
    recipient: str
    account_number: str
    amount: int
    title: str
    payer: str
    transaction_number: str


def _pdf(title: str) -> FPDF:
    # imported here: fpdf2 (~35 MB with fontTools, Pillow, numpy and lxml) only once a document is printed
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_title(title)
    pdf.set_creator("Dziennik")
    pdf.set_lang("pl")
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 15)
    pdf.cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 11)
    return pdf


def _row(pdf: FPDF, label: str, value: str) -> None:
    pdf.set_font("DejaVu", "", 9)
    pdf.cell(0, 5, label, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "B", 12)
    pdf.multi_cell(0, 7, value, border=1, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)


def _zl(grosze: int) -> str:
    return f"{grosze // 100},{grosze % 100:02d} zł"


def payment_slip_pdf(slip: SlipData) -> bytes:
    """A transfer / post-office slip: recipient, account, amount, the title in slip rows, and the
    ZBP payment QR code to scan in a banking app."""
    import segno  # imported here: only a payment slip draws a QR code

    pdf = _pdf("Polecenie przelewu / wpłata gotówkowa")
    _row(pdf, "Nazwa odbiorcy", slip.recipient)
    _row(pdf, "Nr rachunku odbiorcy", slip.account_number)
    _row(pdf, "Kwota", _zl(slip.amount))
    _row(pdf, "Tytułem", "\n".join(money.slip_rows(slip.title)))
    _row(pdf, "Nazwa zleceniodawcy", slip.payer)
    code = segno.make(zbp_payment_code(slip.account_number, slip.amount, slip.recipient, slip.title), error="m", micro=False)
    image = io.BytesIO()
    code.save(image, kind="png", scale=4, border=2)
    image.seek(0)
    pdf.ln(3)
    pdf.set_font("DejaVu", "", 9)
    pdf.cell(0, 5, "Zeskanuj kod w aplikacji banku, aby wypełnić przelew (standard ZBP):", new_x="LMARGIN", new_y="NEXT")
    pdf.image(image, w=40)
    pdf.cell(0, 5, f"Numer transakcji: {slip.transaction_number}", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def cash_receipt_pdf(*, school: str, order_number: str, payer: str, student: str, product: str, amount: int, paid_at: datetime, received_by: str) -> bytes:
    pdf = _pdf("Potwierdzenie wpłaty gotówkowej")
    for label, value in (
        ("Szkoła", school), ("Numer transakcji", order_number), ("Wpłacający", payer), ("Uczeń", student),
        ("Za", product), ("Kwota", _zl(amount)), ("Data wpłaty", paid_at.strftime("%d.%m.%Y %H:%M")), ("Przyjął(-ęła)", received_by),
    ):
        _row(pdf, label, value)
    pdf.ln(8)
    pdf.set_font("DejaVu", "", 10)
    pdf.cell(0, 6, "Podpis przyjmującego: ______________________", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, f"Wygenerowano {date.today().strftime('%d.%m.%Y')} · Dziennik", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
