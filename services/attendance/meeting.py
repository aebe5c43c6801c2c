"""The homeroom teacher's report for parent–teacher meetings: a student's (or the whole class's)
grades with averages from gradebook and attendance from here, as a printable PDF in Polish."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from platform_kit.auth import Principal
from platform_kit.errors import NotFound, PermissionDenied
from services.attendance import report
from services.attendance.use_cases import Attendance, Roster, period, today


@dataclass(frozen=True)
class SubjectGrades:
    subject: str
    grades: list[str]
    average: str | None
    term_grades: dict[str, str]


GradesLookup = Callable[[str], tuple[list[SubjectGrades], str | None]]  # student id → subjects, overall average


class MeetingReports:
    def __init__(self, attendance: Attendance, grades_of: GradesLookup) -> None:
        self.attendance = attendance
        self.grades_of = grades_of

    def pdf(self, caller: Principal, *, student_id: str = "", class_id: str = "", start: str = "", end: str = "") -> tuple[bytes, str]:
        """(PDF, file name) for one student or a whole class; for the class's homeroom teacher,
        the secretary and the principal."""
        if student_id:
            class_id = self.attendance.visible_student(caller, student_id).class_id
        roster = self.attendance.roster(caller, class_id)
        self._require_homeroom(caller, roster)
        first, last = period(start, end)
        students = [s for s in roster.students if not student_id or s[0] == student_id]
        if not students:
            raise NotFound("nie ma takiego ucznia w klasie")
        sheets = [self._sheet(caller, roster, sid, f"{first_name} {last_name}", first.isoformat(), last.isoformat()) for sid, first_name, last_name in students]
        if student_id:
            return report.student_report_pdf(sheets[0], generated_on=today()), f"raport-{_slug(sheets[0].student_name)}.pdf"
        return report.class_report_pdf(sheets, generated_on=today()), f"raport-klasa-{_slug(roster.name)}.pdf"

    def _require_homeroom(self, caller: Principal, roster: Roster) -> None:
        if caller.has_any_role("school_admin", "principal"):
            return
        if "teacher" in caller.roles and roster.class_id in self.attendance.directory.facts(caller.user_id).homeroom_class_ids:
            return
        raise PermissionDenied("raport na zebranie pobiera wychowawca klasy")

    def _sheet(self, caller: Principal, roster: Roster, student_id: str, name: str, start: str, end: str) -> report.StudentSheet:
        subjects, overall = self.grades_of(student_id)
        records = self.attendance.student_records(caller, student_id, start, end)
        summary = self.attendance.student_summary(caller, student_id, start, end)["overall"]
        first, last = period(start, end)
        return report.StudentSheet(
            student_name=name,
            class_name=roster.name,
            school_name=roster.school_name,
            school_year=roster.school_year,
            period_from=first,
            period_to=last,
            subjects=[report.SubjectLine(s.subject, s.grades, s.average, s.term_grades) for s in subjects],
            overall_average=overall,
            percent_present=float(summary.percent_present) if summary.percent_present is not None else None,
            counts=summary.counts,
            absences=[report.Absence(l.date, l.lesson_no, l.subject_name, m.status) for l, m in records if m.status != "present"],
        )


def _slug(text: str) -> str:
    from unicodedata import normalize

    plain = normalize("NFKD", text.translate(str.maketrans("łŁ", "lL"))).encode("ascii", "ignore").decode()
    return "-".join(plain.lower().split()) or "raport"
