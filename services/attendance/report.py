"""The printed report a homeroom teacher (wychowawca) hands out at the parent–teacher meeting.

Parents without paid access see grades and attendance only on this sheet, so it carries
everything for the period: grades per subject, averages, the mid-year (śródroczna) grade,
attendance with counts per status, and the list of lessons the student was not simply present at.

Pure rendering: the caller gathers the data into `StudentSheet`s; nothing here touches the
database or gRPC. This module holds the sheet and its wording; the page layout is in report_pdf.py,
imported only when a report is printed, as fpdf2 (~35 MB with fontTools, Pillow and numpy) would
otherwise stay in the memory of every attendance process. The DejaVu fonts are vendored next to
this module (fonts/, licence in fonts/LICENSE.txt) so Polish letters render on any machine.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVuSans"
CREATOR = "Dziennik"
TITLE = "Informacja o postępach w nauce i frekwencji"
DASH = "—"
MAX_ABSENCE_LINES = 60

# Attendance statuses in the order they are listed; a school's own codes follow, shown as given.
STATUS_NAMES: dict[str, str] = {
    "present": "obecny",
    "absent": "nieobecny",
    "late": "spóźniony",
    "excused": "usprawiedliwiony",
    "released": "zwolniony",
    "school_absence": "nieobecny z przyczyn szkolnych",
}


@dataclass(frozen=True)
class SubjectLine:
    subject: str                 # "Matematyka"
    grades: list[str]            # ["5", "4+", "np"] in date order
    average: str | None          # already formatted decimal like "4.46", or None (shown as "—")
    term_grades: dict[str, str] = field(default_factory=dict)  # kind -> value, kinds: semester_proposed, semester_final, annual_proposed, annual_final


@dataclass(frozen=True)
class Absence:
    day: date
    lesson_no: int
    subject: str
    status: str                  # absent, late, excused, released, school_absence (or a school's own code)


@dataclass(frozen=True)
class StudentSheet:
    student_name: str            # "Zofia Żółkiewska"
    class_name: str              # "1A"
    school_name: str
    school_year: str             # "2026/2027"
    period_from: date
    period_to: date
    subjects: list[SubjectLine]
    overall_average: str | None
    percent_present: float | None   # e.g. 93.75, or None when no lessons counted
    counts: dict[str, int]          # status -> number of lessons
    absences: list[Absence]         # lessons not simply "present"


def student_report_pdf(sheet: StudentSheet, *, generated_on: date) -> bytes:
    """One student's report (one page, or more when the lists are long)."""
    from services.attendance.report_pdf import ReportPDF  # imported here: see the module's docstring

    pdf = ReportPDF(generated_on, title=f"{TITLE} – {sheet.student_name}, klasa {sheet.class_name}")
    pdf.render_student(sheet)
    return bytes(pdf.output())


def class_report_pdf(sheets: list[StudentSheet], *, generated_on: date) -> bytes:
    """The whole class for printing: every student starts on a new page, in the given order.

    The cover line (class, school, year) sits at the top of the first page rather than on a page of
    its own, so a duplex print never puts the first student's report on the back of a cover sheet.
    Each student is also an entry in the PDF outline (bookmarks).
    """
    from services.attendance.report_pdf import ReportPDF  # imported here: see the module's docstring

    classes = unique(s.class_name for s in sheets)
    pdf = ReportPDF(generated_on, title=f"{TITLE} – klasa {', '.join(classes)}" if classes else TITLE)
    pdf.render_cover_line(sheets)
    for index, sheet in enumerate(sheets):
        pdf.render_student(sheet, new_page=index > 0, bookmark=True)
    return bytes(pdf.output())


# --- formatting -----------------------------------------------------------------------------------

def format_date(day: date) -> str:
    return f"{day:%d.%m.%Y}"


def format_decimal(value: str | None) -> str:
    """An already formatted decimal ("4.46") with the Polish decimal comma ("4,46"); None -> "—"."""
    if value is None or not str(value).strip():
        return DASH
    return str(value).strip().replace(".", ",")


def format_percent(value: float | None) -> str:
    """93.75 -> "93,75%" (two decimals, rounded half up); None -> "—"."""
    if value is None:
        return DASH
    try:
        rounded = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation:  # nan / inf
        return DASH
    return f"{rounded}".replace(".", ",") + "%"


def status_name(code: str) -> str:
    return STATUS_NAMES.get(code, code)


def term_grade(line: SubjectLine, term: str) -> str:
    """The final grade for `term` ("semester" or "annual"), else the proposed one marked as such."""
    final = (line.term_grades.get(f"{term}_final") or "").strip()
    if final:
        return final
    proposed = (line.term_grades.get(f"{term}_proposed") or "").strip()
    if proposed:
        return f"{proposed} (proponowana)"
    return DASH


def ordered_counts(counts: dict[str, int]) -> list[tuple[str, int]]:
    """(Polish status name, count): the known statuses in a fixed order, then the school's own codes."""
    known = [(STATUS_NAMES[code], counts[code]) for code in STATUS_NAMES if code in counts]
    own = [(code, n) for code, n in counts.items() if code not in STATUS_NAMES]
    return known + own


def absence_line(absence: Absence) -> str:
    return f"{format_date(absence.day)}, lekcja {absence.lesson_no}, {absence.subject}: {status_name(absence.status)}"


def unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))
