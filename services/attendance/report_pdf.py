"""The page layout of the parent–teacher meeting report (services/attendance/report.py) in fpdf2."""
from __future__ import annotations

from datetime import date, datetime, timezone

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from services.attendance.report import (
    CREATOR,
    DASH,
    FONT,
    FONT_DIR,
    MAX_ABSENCE_LINES,
    TITLE,
    StudentSheet,
    absence_line,
    format_date,
    format_decimal,
    format_percent,
    ordered_counts,
    term_grade,
    unique,
)


class ReportPDF(FPDF):
    MARGIN = 15
    BOTTOM = 20  # room for the footer

    def __init__(self, generated_on: date, *, title: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.generated_on = generated_on
        self.add_font(FONT, "", str(FONT_DIR / "DejaVuSans.ttf"))
        self.add_font(FONT, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
        self.set_margins(self.MARGIN, self.MARGIN, self.MARGIN)
        self.set_auto_page_break(True, margin=self.BOTTOM)
        self.set_title(title)
        self.set_creator(CREATOR)
        self.set_author(CREATOR)
        self.set_lang("pl")
        # The same input gives the same bytes: the creation date is the report's date, not "now".
        self.set_creation_date(datetime(generated_on.year, generated_on.month, generated_on.day, tzinfo=timezone.utc))
        self._sheet: StudentSheet | None = None
        self._sheet_first_page = 0
        self._switching = False

    # Page furniture. add_page() runs footer() for the old page and header() for the new one with
    # whatever student is current, so render_student() switches the student only after add_page().
    def header(self) -> None:
        if self._switching or self._sheet is None or self.page == self._sheet_first_page:
            return
        self.set_font(FONT, "", 8)
        self.set_text_color(90)
        self.cell(0, 5, f"{self._sheet.student_name}, klasa {self._sheet.class_name} (ciąg dalszy)",
                  new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0)
        self.ln(2)

    def footer(self) -> None:
        self.set_y(-self.BOTTOM + 6)
        self.set_font(FONT, "", 8)
        self.set_text_color(90)
        self.cell(self.epw / 2, 5, f"Wygenerowano {format_date(self.generated_on)} · {CREATOR}")
        if self._sheet is not None:
            page = self.page - self._sheet_first_page + 1
            self.cell(self.epw / 2, 5, f"{self._sheet.student_name}, klasa {self._sheet.class_name} · str. {page}", align="R")
        self.set_text_color(0)

    def _text(self, text: str, *, size: float = 10, bold: bool = False, h: float | None = None) -> None:
        self.set_font(FONT, "B" if bold else "", size)
        self.multi_cell(0, h or size * 0.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def render_cover_line(self, sheets: list[StudentSheet]) -> None:
        self.add_page()
        classes = ", ".join(unique(s.class_name for s in sheets)) or DASH
        schools = ", ".join(unique(s.school_name for s in sheets)) or DASH
        years = ", ".join(unique(s.school_year for s in sheets)) or DASH
        self.set_text_color(90)
        self._text(f"Zestawienie dla klasy {classes} · {schools} · rok szkolny {years} · liczba uczniów: {len(sheets)}",
                   size=8, h=4)
        self.set_text_color(0)
        if not sheets:
            self.ln(4)
            self._text("Brak uczniów do wydrukowania.", size=11)
        else:
            self.ln(3)

    def render_student(self, sheet: StudentSheet, *, new_page: bool = True, bookmark: bool = False) -> None:
        if new_page:
            self._switching = True
            self.add_page()
            self._switching = False
        self._sheet = sheet
        self._sheet_first_page = self.page
        if bookmark:
            self.start_section(f"{sheet.student_name} ({sheet.class_name})")

        self._text(TITLE, size=15, bold=True, h=7)
        self._text(sheet.school_name, size=11, h=6)
        self.ln(2)
        self._text(f"Uczeń: {sheet.student_name}, klasa {sheet.class_name}, rok szkolny {sheet.school_year}", size=11, h=6)
        self._text(f"Okres: {format_date(sheet.period_from)} – {format_date(sheet.period_to)}", size=11, h=6)
        self.ln(3)

        self._grades_table(sheet)
        self.ln(3)
        self._text(f"Średnia ogólna: {format_decimal(sheet.overall_average)}", size=11, bold=True, h=6)
        self.ln(4)

        self._attendance(sheet)
        self._signature()

    def _grades_table(self, sheet: StudentSheet) -> None:
        if not sheet.subjects:
            self._text("Brak ocen w tym okresie.", size=10)
            return
        # The annual column appears only once some subject has an annual grade (end of the year).
        annual = any(k.startswith("annual_") and v for line in sheet.subjects for k, v in line.term_grades.items())
        headings = ["Przedmiot", "Oceny", "Średnia", "Ocena śródroczna"] + (["Ocena roczna"] if annual else [])
        # Term columns are wide enough for "6 (proponowana)" on one line; widths in mm (epw = 180).
        widths = (42, 50, 18, 35, 35) if annual else (50, 77, 18, 35)
        align = ("LEFT", "LEFT", "CENTER", "CENTER", "CENTER")[: len(headings)]
        self.set_font(FONT, "", 9)
        with self.table(
            col_widths=widths,
            width=self.epw,
            text_align=align,
            line_height=5,
            padding=1.2,
            headings_style=FontFace(emphasis="BOLD", fill_color=(232, 232, 232)),
            repeat_headings=1,
        ) as table:
            table.row(headings)
            for line in sheet.subjects:
                cells = [
                    line.subject or DASH,
                    " ".join(g.strip() for g in line.grades if g and g.strip()) or DASH,
                    format_decimal(line.average),
                    term_grade(line, "semester"),
                ]
                if annual:
                    cells.append(term_grade(line, "annual"))
                table.row(cells)

    def _attendance(self, sheet: StudentSheet) -> None:
        self._text(f"Frekwencja: {format_percent(sheet.percent_present)}", size=12, bold=True, h=7)
        counts = ordered_counts(sheet.counts)
        if counts:
            self._text(" · ".join(f"{name}: {n}" for name, n in counts), size=10, h=5)
        self.ln(3)

        self._text("Nieobecności, spóźnienia i zwolnienia:", size=11, bold=True, h=6)
        absences = sorted(sheet.absences, key=lambda a: (a.day, a.lesson_no))
        if not absences:
            self._text("Brak wpisów.", size=10, h=5)
        for absence in absences[:MAX_ABSENCE_LINES]:
            self._text(absence_line(absence), size=9, h=4.6)
        if len(absences) > MAX_ABSENCE_LINES:
            self._text(f"… i {len(absences) - MAX_ABSENCE_LINES} więcej", size=9, h=4.6)

    def _signature(self) -> None:
        needed = 18
        if self.will_page_break(needed):
            self.add_page()
        else:
            self.ln(10)
        self.set_font(FONT, "", 10)
        self.cell(0, 6, "Podpis wychowawcy: ______________________________", align="R",
                  new_x=XPos.LMARGIN, new_y=YPos.NEXT)
