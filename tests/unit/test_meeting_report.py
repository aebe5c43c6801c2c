"""The parent–teacher meeting report (services/attendance/report.py), checked through the PDF's text.

Text is extracted with pypdf, so these tests also prove the vendored DejaVu font carries the Polish
letters through (fpdf2 writes a ToUnicode map for the embedded subset).
"""
from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from pypdf import PdfReader

from services.attendance.report import (
    MAX_ABSENCE_LINES,
    Absence,
    StudentSheet,
    SubjectLine,
    class_report_pdf,
    student_report_pdf,
)

GENERATED_ON = date(2027, 1, 21)


def sheet(name: str = "Zofia Żółkiewska", **changes) -> StudentSheet:
    values = dict(
        student_name=name,
        class_name="1A",
        school_name="Szkoła Podstawowa nr 5 im. Marii Skłodowskiej-Curie w Łodzi",
        school_year="2026/2027",
        period_from=date(2026, 9, 1),
        period_to=date(2027, 1, 20),
        subjects=[
            SubjectLine("Matematyka", ["5", "4+", "np", "3-"], "4.46", {"semester_proposed": "4"}),
            SubjectLine("Język polski", ["5", "6"], "5.50", {"semester_proposed": "4", "semester_final": "5"}),
            SubjectLine("Religia", ["5"], None),
        ],
        overall_average="4.98",
        percent_present=93.75,
        counts={"present": 45, "absent": 1, "late": 1, "excused": 1, "wycieczka": 2},
        absences=[
            Absence(date(2026, 9, 2), 3, "Fizyka", "late"),
            Absence(date(2026, 9, 1), 2, "Wiedza o społeczeństwie", "absent"),
            Absence(date(2026, 9, 3), 1, "Chemia", "excused"),
            Absence(date(2026, 9, 4), 5, "Historia", "wycieczka"),
        ],
    )
    values.update(changes)
    return StudentSheet(**values)


def reader(pdf: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(pdf))


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in reader(pdf).pages)


def line_with(text: str, start: str) -> str:
    matches = [line for line in text.splitlines() if line.startswith(start)]
    assert matches, f"no line starting with {start!r} in:\n{text}"
    return matches[0]


@pytest.fixture(scope="module")
def student_pdf() -> bytes:
    return student_report_pdf(sheet(), generated_on=GENERATED_ON)


@pytest.fixture(scope="module")
def student_text(student_pdf: bytes) -> str:
    return text_of(student_pdf)


def test_output_is_a_pdf(student_pdf: bytes) -> None:
    assert student_pdf.startswith(b"%PDF")
    assert class_report_pdf([sheet()], generated_on=GENERATED_ON).startswith(b"%PDF")
    assert class_report_pdf([], generated_on=GENERATED_ON).startswith(b"%PDF")


def test_header_names_student_with_polish_letters_class_and_period(student_text: str) -> None:
    assert "Informacja o postępach w nauce i frekwencji" in student_text
    assert "Szkoła Podstawowa nr 5 im. Marii Skłodowskiej-Curie w Łodzi" in student_text
    assert "Uczeń: Zofia Żółkiewska, klasa 1A, rok szkolny 2026/2027" in student_text
    assert "Okres: 01.09.2026 – 20.01.2027" in student_text


def test_subject_table_shows_grades_average_and_term_grade(student_text: str) -> None:
    for heading in ("Przedmiot", "Oceny", "Średnia", "Ocena śródroczna"):
        assert heading in student_text
    # Averages get the Polish decimal comma; no final grade yet -> the proposed one, marked.
    assert line_with(student_text, "Matematyka") == "Matematyka 5 4+ np 3- 4,46 4 (proponowana)"
    # A final grade wins over the proposed one.
    assert line_with(student_text, "Język polski") == "Język polski 5 6 5,50 5"
    assert "Średnia ogólna: 4,98" in student_text


def test_missing_average_and_term_grade_show_a_dash(student_text: str) -> None:
    assert line_with(student_text, "Religia") == "Religia 5 — —"


def test_missing_overall_average_and_attendance_show_a_dash() -> None:
    text = text_of(student_report_pdf(
        sheet(overall_average=None, percent_present=None, counts={}, absences=[], subjects=[]),
        generated_on=GENERATED_ON,
    ))
    assert "Średnia ogólna: —" in text
    assert "Frekwencja: —" in text
    assert "Brak ocen w tym okresie." in text
    assert "Brak wpisów." in text


def test_attendance_percent_counts_and_absences_in_polish(student_text: str) -> None:
    assert "Frekwencja: 93,75%" in student_text
    # Known statuses in a fixed order with Polish names; a school's own code as given.
    assert "obecny: 45 · nieobecny: 1 · spóźniony: 1 · usprawiedliwiony: 1 · wycieczka: 2" in student_text
    absences = [line for line in student_text.splitlines() if ", lekcja " in line]
    assert absences == [  # sorted by day and lesson
        "01.09.2026, lekcja 2, Wiedza o społeczeństwie: nieobecny",
        "02.09.2026, lekcja 3, Fizyka: spóźniony",
        "03.09.2026, lekcja 1, Chemia: usprawiedliwiony",
        "04.09.2026, lekcja 5, Historia: wycieczka",
    ]


def test_remaining_status_names() -> None:
    text = text_of(student_report_pdf(sheet(
        counts={"released": 2, "school_absence": 3},
        absences=[Absence(date(2026, 10, 1), 1, "Biologia", "released"),
                  Absence(date(2026, 10, 2), 4, "Geografia", "school_absence")],
    ), generated_on=GENERATED_ON))
    assert "zwolniony: 2 · nieobecny z przyczyn szkolnych: 3" in text
    assert "01.10.2026, lekcja 1, Biologia: zwolniony" in text
    assert "02.10.2026, lekcja 4, Geografia: nieobecny z przyczyn szkolnych" in text


def test_footer_signature_and_metadata(student_pdf: bytes, student_text: str) -> None:
    assert "Wygenerowano 21.01.2027 · Dziennik" in student_text
    assert "Podpis wychowawcy: ____" in student_text
    pdf = reader(student_pdf)
    assert pdf.metadata.creator == "Dziennik"
    assert pdf.metadata.title.startswith("Informacja o postępach w nauce i frekwencji")
    assert pdf.trailer["/Root"]["/Lang"] == "pl"


def test_long_absence_list_is_cut_and_flows_onto_more_pages() -> None:
    absences = [Absence(date(2026, 9, 1) + timedelta(days=i // 7), i % 7 + 1, "Fizyka", "absent") for i in range(200)]
    pdf = student_report_pdf(sheet(absences=absences), generated_on=GENERATED_ON)
    pages = reader(pdf).pages
    assert len(pages) > 1
    text = text_of(pdf)
    assert sum(", lekcja " in line for line in text.splitlines()) == MAX_ABSENCE_LINES
    assert f"… i {200 - MAX_ABSENCE_LINES} więcej" in text
    assert "Podpis wychowawcy" in pages[-1].extract_text()
    assert "Zofia Żółkiewska, klasa 1A (ciąg dalszy)" in pages[1].extract_text()


def test_long_subject_list_flows_onto_more_pages() -> None:
    subjects = [SubjectLine(f"Przedmiot nr {i}", ["5", "4"] * 20, "4.50") for i in range(60)]
    pdf = student_report_pdf(sheet(subjects=subjects), generated_on=GENERATED_ON)
    assert len(reader(pdf).pages) > 1
    text = text_of(pdf)
    for i in range(60):
        assert f"Przedmiot nr {i} " in text


def test_class_report_has_one_section_per_student_in_order() -> None:
    names = ["Zofia Żółkiewska", "Łukasz Ślęzak", "Jan Kowalski"]
    pdf = class_report_pdf([sheet(name) for name in names], generated_on=GENERATED_ON)
    pages = reader(pdf).pages
    assert len(pages) == len(names)  # short sheets: one page each
    texts = [page.extract_text() for page in pages]
    assert "Zestawienie dla klasy 1A · Szkoła Podstawowa nr 5 im. Marii Skłodowskiej-Curie w Łodzi · " \
           "rok szkolny 2026/2027" in texts[0]
    for name, text in zip(names, texts):
        assert f"Uczeń: {name}, klasa 1A" in text
        assert sum(other in text for other in names) == 1  # nobody else's data on a student's page
    assert [item.title for item in reader(pdf).outline] == [f"{name} (1A)" for name in names]


def test_class_report_long_student_takes_more_pages_and_next_starts_fresh() -> None:
    long_absences = [Absence(date(2026, 9, 1) + timedelta(days=i), 1, "Fizyka", "late") for i in range(80)]
    pdf = class_report_pdf([sheet("Anna Długa", absences=long_absences), sheet("Ewa Krótka")], generated_on=GENERATED_ON)
    texts = [page.extract_text() for page in reader(pdf).pages]
    assert len(texts) == 3
    assert "Uczeń: Anna Długa" in texts[0] and "Anna Długa, klasa 1A (ciąg dalszy)" in texts[1]
    assert "Ewa Krótka" not in texts[0] + texts[1]
    assert "Uczeń: Ewa Krótka" in texts[2] and "Anna Długa" not in texts[2]
