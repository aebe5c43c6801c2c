"""What gradebook does for its callers: subjects, categories and settings; grades with their
history; averages, term grades and class statistics — each checked against who is asking."""
from __future__ import annotations

import functools
import re
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from dziennik.gradebook.v1 import events_pb2
from platform_kit.auth import Principal
from platform_kit.clock import parse_day, proto_timestamp
from platform_kit.clock import school_today as today
from platform_kit.clock import utcnow as _now
from platform_kit.bus import record_event, record_events
from platform_kit.cache import FreshOnDenial, TtlCache
from platform_kit.db import Database
from platform_kit.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from services.gradebook import averages as rules
from services.gradebook import pages
from services.gradebook.events import GRADE_CHANGED, GRADE_DELETED, GRADE_RECORDED, TERM_GRADE_SET
from services.gradebook.grades import MARKS, TERM_GRADE_KINDS, normalise_grade_value, normalise_term_grade
from services.gradebook.orm import Grade, GradeCategory, HistoryEntry, SchoolGradeSettings, Subject, TermGrade

STAFF = ("teacher", "school_admin", "principal")
MAX_BATCH = 60


@dataclass(frozen=True)
class Student:
    """What gradebook needs to know about a student (identity owns the rest)."""

    id: str
    school_id: str
    class_id: str
    parent_ids: frozenset[str]
    first_name: str = ""
    last_name: str = ""


@dataclass(frozen=True)
class Teaching:
    """What a teacher teaches: (class, subject) pairs, and the classes they are homeroom teacher of."""

    assignments: frozenset[tuple[str, str]]
    homeroom_class_ids: frozenset[str]
    name: str = ""

    def teaches_class(self, class_id: str) -> bool:
        return class_id in self.homeroom_class_ids or any(c == class_id for c, _ in self.assignments)


@dataclass(frozen=True)
class ClassRoster:
    """A class as identity knows it: enough to authorize its register and name its students."""

    class_id: str
    school_id: str
    school_year: str
    homeroom_teacher_id: str
    student_ids: tuple[str, ...]


class People(Protocol):
    """Identity's answers, as gradebook needs them."""

    def student(self, student_id: str) -> Student | None: ...

    def students(self, school_id: str, student_ids: list[str]) -> list[Student]:
        """Those of the named students who are in the school, in one question."""
        ...

    def teaching(self, teacher_id: str) -> Teaching: ...

    def class_roster(self, class_id: str) -> ClassRoster | None: ...


class CachedPeople:
    """identity's answers about students and teachers, kept for `seconds` (the grades page and a
    class's batch of grades would otherwise ask identity for every request and every student).
    platform_kit.cache's rule holds: a copy may grant a few seconds longer, never refuse."""

    def __init__(self, people: People, seconds: float, followed_seconds: float = 0.0) -> None:
        self.people = people
        self.answers = FreshOnDenial()
        # a student's copy is about them and their parents; a teacher's about them
        self._students: TtlCache[Student] = TtlCache(
            "gradebook_students", seconds, followed_seconds=followed_seconds, mentions=lambda student_id, s: (student_id, *s.parent_ids)
        )
        self._teaching: TtlCache[Teaching] = TtlCache(
            "gradebook_teaching", seconds, followed_seconds=followed_seconds, mentions=lambda teacher_id, _t: (teacher_id,)
        )

    @property
    def caches(self) -> list[TtlCache]:
        """What identity's PeopleChanged events keep honest (platform_kit/bus/follower.py)."""
        return [self._students, self._teaching]

    def student(self, student_id: str) -> Student | None:
        return self.answers.lookup(self._students, student_id, lambda: self.people.student(student_id))

    def students(self, school_id: str, student_ids: list[str]) -> dict[str, Student]:
        """The named students of the school by id; those not kept are asked for in one question."""
        return self.answers.lookup_many(
            self._students, student_ids, lambda missing: {s.id: s for s in self.people.students(school_id, missing)}
        )

    def teaching(self, teacher_id: str) -> Teaching:
        return self.answers.lookup(self._teaching, teacher_id, lambda: self.people.teaching(teacher_id))

    def class_roster(self, class_id: str) -> ClassRoster | None:
        return self.people.class_roster(class_id)


def _rechecked(method):
    """A use case that refused on cached answers about people runs once more on fresh ones."""

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        return self.people.answers.run(lambda: method(self, *args, **kwargs))

    return run


@dataclass(frozen=True)
class GradeView:
    grade: Grade
    category: GradeCategory | None
    semester: int


@dataclass(frozen=True)
class SubjectReport:
    subject: Subject
    grades: list[GradeView]
    averages: dict[str, Decimal | None]
    term_grades: dict[str, str]
    suggested_semester_grade: str | None
    suggested_annual_grade: str | None


@dataclass(frozen=True)
class StudentReport:
    student_id: str
    school_year: str
    subjects: list[SubjectReport]
    overall_average: Decimal | None


@dataclass(frozen=True)
class ClassStatistics:
    grade_count: int
    student_count: int
    average: Decimal | None
    distribution: dict[str, int]


@dataclass(frozen=True)
class GradeRecords:
    """Grades and term grades, each with every state it has been in (exports)."""

    grades: list[tuple[GradeView, list[HistoryEntry]]]
    term_grades: list[tuple[TermGrade, list[HistoryEntry]]]
    subjects: list[Subject]
    categories: list[GradeCategory]
    school_year: str


_SCHOOL_YEAR = re.compile(r"^(\d{4})/(\d{4})$")



def _decimal(raw: str, field: str) -> Decimal:
    try:
        value = Decimal(raw)
    except (InvalidOperation, TypeError):
        raise InvalidArgument("niepoprawna liczba", field_errors={field: "Podaj liczbę, np. 17.5."}) from None
    if not value.is_finite() or value < 0 or value > 10000:
        raise InvalidArgument("niepoprawna liczba", field_errors={field: "Liczba od 0 do 10000."})
    return value


class Gradebook:
    def __init__(self, database: Database, people: People, *, people_cache_seconds: float = 0, people_cache_followed_seconds: float = 0) -> None:
        self.database = database
        self.people = CachedPeople(people, people_cache_seconds, people_cache_followed_seconds)

    # -- subjects, categories, settings ----------------------------------------------------------

    def create_subject(self, caller: Principal, name: str, short_name: str, school_id: str) -> str:
        school_id = self._administered_school(caller, school_id)
        name = name.strip()
        if not 1 <= len(name) <= 100:
            raise InvalidArgument("niepoprawna nazwa", field_errors={"name": "Nazwa przedmiotu: od 1 do 100 znaków."})
        with self.database.transaction() as session:
            if session.scalar(select(Subject).where(Subject.school_id == school_id, Subject.name == name)):
                raise Conflict("taki przedmiot już istnieje")
            subject = Subject(id=str(uuid.uuid4()), school_id=school_id, name=name, short_name=short_name.strip()[:20])
            session.add(subject)
        return subject.id

    def list_subjects(self, caller: Principal, school_id: str = "") -> list[Subject]:
        school_id = self._staff_school(caller, school_id)
        with self.database.transaction() as session:
            return list(session.scalars(select(Subject).where(Subject.school_id == school_id).order_by(Subject.name)))

    def get_subject(self, caller: Principal, subject_id: str) -> Subject:
        with self.database.transaction() as session:
            subject = session.get(Subject, subject_id) if subject_id else None
        if subject is None or not (caller.is_service or "superadmin" in caller.roles or subject.school_id == caller.school_id):
            raise NotFound("nie ma takiego przedmiotu")
        return subject

    def create_category(self, caller: Principal, name: str, weight: int, counts_to_average: bool) -> str:
        school_id = self._administered_school(caller, "")
        name = name.strip()
        problems = {}
        if not 1 <= len(name) <= 60:
            problems["name"] = "Nazwa kategorii: od 1 do 60 znaków."
        if not 1 <= weight <= 10:
            problems["weight"] = "Waga: liczba całkowita od 1 do 10."
        if problems:
            raise InvalidArgument("niepoprawna kategoria", field_errors=problems)
        with self.database.transaction() as session:
            if session.scalar(select(GradeCategory).where(GradeCategory.school_id == school_id, GradeCategory.name == name)):
                raise Conflict("taka kategoria już istnieje")
            category = GradeCategory(id=str(uuid.uuid4()), school_id=school_id, name=name, weight=weight, counts_to_average=counts_to_average)
            session.add(category)
        return category.id

    def list_categories(self, caller: Principal) -> list[GradeCategory]:
        school_id = self._staff_school(caller, "")
        with self.database.transaction() as session:
            return list(session.scalars(select(GradeCategory).where(GradeCategory.school_id == school_id).order_by(GradeCategory.name)))

    def settings_of(self, caller: Principal) -> rules.GradeSettings:
        school_id = self._staff_school(caller, "")
        with self.database.transaction() as session:
            return _settings(session, school_id)

    def update_settings(self, caller: Principal, settings: rules.GradeSettings) -> rules.GradeSettings:
        school_id = self._administered_school(caller, "")
        problems = {}
        for field in ("plus", "minus"):
            if not Decimal("0") <= getattr(settings, field) < Decimal("1"):
                problems[field] = "Wartość modyfikatora od 0 do 0.99."
        if not settings.allowed_marks <= MARKS:
            problems["allowed_marks"] = f"Dozwolone symbole to: {', '.join(sorted(MARKS))}."
        grades = [g for _, g in settings.thresholds]
        if sorted(grades) != ["1", "2", "3", "4", "5", "6"] or any(not Decimal(0) <= a <= Decimal(6) for a, _ in settings.thresholds):
            problems["thresholds"] = "Po jednym progu (0–6) dla każdej oceny od 1 do 6."
        month, day = settings.second_semester_starts
        try:
            date(2028, month, day)
            valid_start = 1 <= month <= 6  # the second semester starts between January and June
        except ValueError:
            valid_start = False
        if not valid_start:
            problems["second_semester_starts"] = "Data w postaci MM-DD między 01-01 a 06-30, np. 02-01."
        if problems:
            raise InvalidArgument("niepoprawne ustawienia ocen", field_errors=problems)
        with self.database.transaction() as session:
            row = session.get(SchoolGradeSettings, school_id) or SchoolGradeSettings(school_id=school_id)
            row.plus, row.minus = settings.plus, settings.minus
            row.improved_original_counts = settings.improved_original_counts
            row.allowed_marks = sorted(settings.allowed_marks)
            row.thresholds = [[str(a), g] for a, g in settings.thresholds]
            row.second_semester_starts = f"{month:02d}-{day:02d}"
            row.updated_at = _now()
            session.add(row)
            pages.changed(session, schools=[school_id])  # every page of the school shows what the rules make of its grades
        return settings

    # -- grades ------------------------------------------------------------------------------------

    def record_grade(
        self,
        caller: Principal,
        student_id: str,
        subject_id: str,
        value: str,
        comment: str = "",
        request_id: str = "",
        category_id: str = "",
        day: str = "",
        points: str = "",
        max_points: str = "",
        improves_grade_id: str = "",
    ) -> GradeView:
        entry = {"student_id": student_id, "value": value, "comment": comment, "points": points, "max_points": max_points, "improves_grade_id": improves_grade_id}
        return self.record_grades(caller, subject_id, category_id, day, [entry], request_id, single=True)[0]

    @_rechecked
    def record_grades(
        self, caller: Principal, subject_id: str, category_id: str, day: str, entries: list[dict], request_id: str = "", *, single: bool = False
    ) -> list[GradeView]:
        """Record grades for several students of a class at once: all of them or none."""
        if not caller.has_any_role("teacher"):
            raise PermissionDenied("oceny wystawia nauczyciel")
        if not entries or len(entries) > MAX_BATCH:
            raise InvalidArgument("niepoprawna lista ocen", field_errors={"grades": f"Od 1 do {MAX_BATCH} ocen naraz."})
        teaching = self.people.teaching(caller.user_id)
        known = self.people.students(caller.school_id, [e.get("student_id", "") for e in entries])  # the class in one question
        students = [self._visible_student(caller, e.get("student_id", ""), teaching, known.get(e.get("student_id", ""))) for e in entries]
        issued_on = self._day(day)
        with self.database.transaction() as session:
            if request_id:
                same_request = Grade.request_id == request_id if single else Grade.request_id.startswith(f"{request_id}#", autoescape=True)
                earlier = list(session.scalars(select(Grade).where(Grade.teacher_id == caller.user_id, same_request).order_by(Grade.request_id)))
                if earlier:  # the same request again: answer what was recorded then
                    return [self._view(session, g) for g in earlier]
            subject = session.get(Subject, subject_id) if subject_id else None
            if subject is None or subject.school_id != caller.school_id:
                raise NotFound("nie ma takiego przedmiotu")
            category = self._category(session, caller.school_id, category_id)
            settings = _settings(session, subject.school_id)
            problems: dict[str, str] = {}
            grades: list[Grade] = []
            for index, (entry, student) in enumerate(zip(entries, students)):
                prefix = "" if single else f"grades[{index}]."
                if (student.class_id, subject.id) not in teaching.assignments:
                    raise PermissionDenied("ocenę wystawia nauczyciel, który uczy tego przedmiotu w klasie ucznia")
                try:
                    grades.append(self._new_grade(session, caller, student, subject, category, issued_on, entry, settings, prefix))
                except InvalidArgument as exc:
                    problems.update(exc.field_errors)
            if problems:
                raise InvalidArgument("niepoprawne oceny; nic nie zostało zapisane", field_errors=problems)
            pages.changed(session, students=(grade.student_id for grade in grades))
            for index, grade in enumerate(grades):
                grade.request_id = (f"{request_id}#{index:03d}" if not single else request_id) if request_id else None
            session.add_all(grades)
            session.flush()  # the grades in one statement, before their history and events
            for grade in grades:
                self._history(session, grade, "recorded", caller, None, _snapshot(grade))
            record_events(
                session,
                GRADE_RECORDED,
                [
                    (
                        events_pb2.GradeRecorded(
                            grade_id=grade.id,
                            school_id=grade.school_id,
                            student_id=grade.student_id,
                            subject_id=subject.id,
                            subject_name=subject.name,
                            value=grade.value,
                            teacher_id=grade.teacher_id,
                            date=grade.issued_on.isoformat(),
                            recorded_at=proto_timestamp(grade.recorded_at),
                            context=_context(student, subject, caller.user_id, teaching.name),
                            category_name=category.name if category else "",
                            weight=category.weight if category else 0,
                            comment=grade.comment,
                        ),
                        grade.school_id,
                        grade.student_id,
                    )
                    for grade, student in zip(grades, students)
                ],
            )
            return [self._view(session, g, settings) for g in grades]

    def _new_grade(self, session, caller, student, subject, category, issued_on, entry, settings, prefix) -> Grade:
        points, max_points = (entry.get("points") or "").strip(), (entry.get("max_points") or "").strip()
        problems: dict[str, str] = {}
        point_values = None
        if points or max_points:
            try:
                point_values = (_decimal(points, f"{prefix}points"), _decimal(max_points, f"{prefix}max_points"))
            except InvalidArgument as exc:
                problems.update(exc.field_errors)
            else:
                if point_values[1] == 0 or point_values[0] > point_values[1]:
                    problems[f"{prefix}points"] = "Punkty od 0 do liczby możliwych (większej od 0)."
            value = f"{points}/{max_points}"
        else:
            try:
                value = normalise_grade_value(entry.get("value", ""), settings.allowed_marks, field=f"{prefix}value")
            except InvalidArgument as exc:
                problems.update(exc.field_errors)
                value = ""
        comment = (entry.get("comment") or "").strip()
        if len(comment) > 1000:
            problems[f"{prefix}comment"] = "Komentarz: najwyżej 1000 znaków."
        improves = entry.get("improves_grade_id") or None
        if improves:
            original = session.get(Grade, improves)
            if original is None or original.deleted_at is not None or original.student_id != student.id or original.subject_id != subject.id:
                problems[f"{prefix}improves_grade_id"] = "Poprawiać można ocenę tego ucznia z tego przedmiotu."
        if problems:
            raise InvalidArgument("niepoprawna ocena", field_errors=problems)
        return Grade(
            id=str(uuid.uuid4()),
            school_id=student.school_id,
            student_id=student.id,
            subject_id=subject.id,
            category_id=category.id if category else None,
            value=value,
            comment=comment,
            teacher_id=caller.user_id,
            issued_on=issued_on,
            recorded_at=_now(),
            class_id=student.class_id,
            school_year=rules.school_year_of(issued_on),
            points=point_values[0] if point_values else None,
            max_points=point_values[1] if point_values else None,
            improves_grade_id=improves,
            version=1,
        )

    @_rechecked
    def change_grade(
        self, caller: Principal, grade_id: str, *, value: str | None, comment: str | None, category_id: str | None, expected_version: int = 0
    ) -> GradeView:
        with self.database.transaction() as session:
            grade, student, teaching = self._grade_for_correction(session, caller, grade_id, expected_version)
            subject = session.get(Subject, grade.subject_id)
            settings = _settings(session, grade.school_id)
            before = _snapshot(grade)
            if value is not None:
                if grade.points is not None:
                    raise InvalidArgument("ocena punktowa", field_errors={"value": "Ocenę punktową zmienia się przez punkty (usuń i wystaw ponownie)."})
                grade.value = normalise_grade_value(value, settings.allowed_marks)
            if comment is not None:
                if len(comment) > 1000:
                    raise InvalidArgument("za długi komentarz", field_errors={"comment": "Komentarz: najwyżej 1000 znaków."})
                grade.comment = comment.strip()
            if category_id is not None:
                category = self._category(session, grade.school_id, category_id)
                grade.category_id = category.id if category else None
            after = _snapshot(grade)
            if after == before:
                return self._view(session, grade)
            grade.version += 1
            grade.updated_at = _now()
            pages.changed(session, students=[grade.student_id])
            self._history(session, grade, "changed", caller, _diff(before, after), _diff(after, before))
            category = session.get(GradeCategory, grade.category_id) if grade.category_id else None
            record_event(
                session,
                GRADE_CHANGED,
                events_pb2.GradeChanged(
                    grade_id=grade.id,
                    context=_context(student, subject, grade.teacher_id, teaching.name if caller.user_id == grade.teacher_id else ""),
                    old_value=before["value"],
                    new_value=grade.value,
                    category_name=category.name if category else "",
                    changed_by=caller.user_id,
                    version=grade.version,
                    changed_at=proto_timestamp(grade.updated_at),
                ),
                school_id=grade.school_id,
                subject=grade.student_id,
            )
            return self._view(session, grade)

    @_rechecked
    def delete_grade(self, caller: Principal, grade_id: str, expected_version: int = 0) -> None:
        """A deleted grade is a recorded state: the row stays, marked, with its history."""
        with self.database.transaction() as session:
            grade, student, teaching = self._grade_for_correction(session, caller, grade_id, expected_version)
            subject = session.get(Subject, grade.subject_id)
            grade.deleted_at = _now()
            grade.version += 1
            pages.changed(session, students=[grade.student_id])
            self._history(session, grade, "deleted", caller, _snapshot(grade), None)
            record_event(
                session,
                GRADE_DELETED,
                events_pb2.GradeDeleted(
                    grade_id=grade.id,
                    context=_context(student, subject, grade.teacher_id, ""),
                    value=grade.value,
                    deleted_by=caller.user_id,
                    deleted_at=proto_timestamp(grade.deleted_at),
                ),
                school_id=grade.school_id,
                subject=grade.student_id,
            )

    @_rechecked
    def grade_history(self, caller: Principal, grade_id: str) -> tuple[str, list[HistoryEntry]]:
        """The grade's student and every state of the grade, oldest first."""
        with self.database.transaction() as session:
            grade = session.get(Grade, grade_id) if grade_id else None
            if grade is None:
                raise NotFound("nie ma takiej oceny")
            self._visible_student(caller, grade.student_id)
            return grade.student_id, list(
                session.scalars(select(HistoryEntry).where(HistoryEntry.entity == "grade", HistoryEntry.entity_id == grade.id).order_by(HistoryEntry.id))
            )

    # -- reports ---------------------------------------------------------------------------------------

    @_rechecked
    def student_grades(self, caller: Principal, student_id: str, school_year: str = "") -> StudentReport:
        student = self._visible_student(caller, student_id)
        with self.database.transaction() as session:
            return _report(session, student, school_year or rules.school_year_of(today()))

    @_rechecked
    def student_grades_page(self, caller: Principal, student_id: str, school_year: str = "", cached_version: str = "") -> tuple[str, bytes | None]:
        """The page `student_grades` makes, as the REST API serves it (gzip-compressed JSON), and
        its version; no page when `cached_version` is still current. Kept between reads
        (services/gradebook/pages.py)."""
        _check_school_year(school_year)
        student = self._visible_student(caller, student_id)
        school_year = school_year or rules.school_year_of(today())
        with self.database.reading() as session:
            page = pages.stored(session, student.id, student.school_id, school_year)
            if cached_version and cached_version == page.version:
                return page.version, None
            if page.body is not None:
                return page.version, page.body
            body = pages.pack(pages.render(_report(session, student, school_year)))
        # Its own transaction: on SQLite a reading transaction cannot always become a writing one.
        with self.database.transaction() as session:
            pages.store(session, student.id, page, body)
        return page.version, body

    @_rechecked
    def set_term_grade(self, caller: Principal, student_id: str, subject_id: str, kind: str, value: str, school_year: str = "") -> tuple[TermGrade, str | None]:
        if not caller.has_any_role("teacher"):
            raise PermissionDenied("oceny okresowe wystawia nauczyciel przedmiotu")
        teaching = self.people.teaching(caller.user_id)
        student = self._visible_student(caller, student_id, teaching)
        if (student.class_id, subject_id) not in teaching.assignments:
            raise PermissionDenied("ocenę okresową wystawia nauczyciel, który uczy tego przedmiotu w klasie ucznia")
        if kind not in TERM_GRADE_KINDS:
            raise InvalidArgument("nieznany rodzaj oceny", field_errors={"kind": f"Jeden z: {', '.join(TERM_GRADE_KINDS)}."})
        value = normalise_term_grade(value)
        school_year = school_year or rules.school_year_of(today())
        report = self.student_grades(caller, student_id, school_year)
        subject_report = next((r for r in report.subjects if r.subject.id == subject_id), None)
        suggested = None
        if subject_report is not None:
            suggested = subject_report.suggested_semester_grade if kind.startswith("semester") else subject_report.suggested_annual_grade
        with self.database.transaction() as session:
            subject = session.get(Subject, subject_id)
            if subject is None or subject.school_id != student.school_id:
                raise NotFound("nie ma takiego przedmiotu")
            term = session.scalar(
                select(TermGrade).where(
                    TermGrade.student_id == student.id, TermGrade.subject_id == subject.id, TermGrade.school_year == school_year, TermGrade.kind == kind
                ).with_for_update()
            )
            old = {"value": term.value} if term else None
            if term is None:
                term = TermGrade(id=str(uuid.uuid4()), school_id=student.school_id, student_id=student.id, subject_id=subject.id, school_year=school_year, kind=kind)
                session.add(term)
            term.value, term.teacher_id, term.set_at = value, caller.user_id, _now()
            pages.changed(session, students=[student.id])
            session.flush()
            session.add(HistoryEntry(entity="term_grade", entity_id=term.id, action="set", actor_id=caller.user_id, at=term.set_at, old=old, new={"kind": kind, "value": value}))
            record_event(
                session,
                TERM_GRADE_SET,
                events_pb2.TermGradeSet(
                    context=_context(student, subject, caller.user_id, teaching.name), school_year=school_year, kind=kind, value=value, set_at=proto_timestamp(term.set_at)
                ),
                school_id=student.school_id,
                subject=student.id,
            )
            return term, suggested

    @_rechecked
    def class_statistics(self, caller: Principal, class_id: str, subject_id: str, school_year: str = "") -> ClassStatistics:
        """Distribution, average and number of grades of one subject in one class."""
        school_year = school_year or rules.school_year_of(today())
        if caller.has_any_role("school_admin", "principal"):
            pass
        elif "teacher" in caller.roles and self.people.teaching(caller.user_id).teaches_class(class_id):
            pass
        else:
            raise NotFound("nie ma takiej klasy")
        with self.database.transaction() as session:
            subject = session.get(Subject, subject_id) if subject_id else None
            if subject is None or subject.school_id != caller.school_id:
                raise NotFound("nie ma takiego przedmiotu")
            settings = _settings(session, subject.school_id)
            categories = {c.id: c for c in session.scalars(select(GradeCategory).where(GradeCategory.school_id == subject.school_id))}
            grades = list(
                session.scalars(
                    select(Grade).where(
                        Grade.class_id == class_id, Grade.subject_id == subject.id, Grade.school_year == school_year, Grade.deleted_at.is_(None), Grade.school_id == caller.school_id
                    )
                )
            )
        distribution = Counter(g.value if g.value in MARKS else g.value[0] for g in grades if g.points is None)
        by_student: dict[str, list[Grade]] = {}
        for grade in grades:
            by_student.setdefault(grade.student_id, []).append(grade)
        student_averages = [rules.weighted_average([_counted(g, categories.get(g.category_id or "")) for g in own], settings) for own in by_student.values()]
        return ClassStatistics(len(grades), len(by_student), rules.overall_average(student_averages), dict(sorted(distribution.items())))

    # -- exports ---------------------------------------------------------------------------------------

    @_rechecked
    def grade_records(self, caller: Principal, class_id: str = "", student_id: str = "", school_year: str = "") -> GradeRecords:
        """Every grade of a class or of a student — deleted ones too — with its history, and the
        term grades with theirs: what the class register and a student's data export hold. A
        class's term grades are those of its students (and of anyone graded in it) that year."""
        if bool(class_id) == bool(student_id):
            raise InvalidArgument("klasa albo uczeń", field_errors={"class_id": "Podaj klasę albo ucznia (jedno z nich)."})
        _check_school_year(school_year)
        if class_id:
            roster = self._register_class(caller, class_id)
            school_id, school_year = roster.school_id, school_year or roster.school_year
            wanted = [Grade.class_id == roster.class_id]
            student_ids = set(roster.student_ids)
        else:
            student = self._visible_student(caller, student_id)
            school_id = student.school_id
            wanted = [Grade.student_id == student.id]
            student_ids = {student.id}
        grade_filter = [*wanted, Grade.school_id == school_id] + ([Grade.school_year == school_year] if school_year else [])
        with self.database.transaction() as session:
            settings = _settings(session, school_id)
            categories = list(session.scalars(select(GradeCategory).where(GradeCategory.school_id == school_id).order_by(GradeCategory.name)))
            by_id = {c.id: c for c in categories}
            grades = list(session.scalars(select(Grade).where(*grade_filter).order_by(Grade.student_id, Grade.subject_id, Grade.issued_on, Grade.recorded_at)))
            student_ids |= {g.student_id for g in grades}
            term_filter = [TermGrade.student_id.in_(sorted(student_ids)), TermGrade.school_id == school_id] + (
                [TermGrade.school_year == school_year] if school_year else []
            )
            terms = list(session.scalars(select(TermGrade).where(*term_filter).order_by(TermGrade.student_id, TermGrade.subject_id, TermGrade.school_year, TermGrade.kind)))
            grade_history = _histories(session, "grade", select(Grade.id).where(*grade_filter))
            term_history = _histories(session, "term_grade", select(TermGrade.id).where(*term_filter)) if student_ids else {}
            subject_ids = {g.subject_id for g in grades} | {t.subject_id for t in terms}
            subjects = list(session.scalars(select(Subject).where(Subject.id.in_(sorted(subject_ids))).order_by(Subject.name))) if subject_ids else []
        return GradeRecords(
            grades=[
                (GradeView(g, by_id.get(g.category_id or ""), rules.semester_of(g.issued_on, settings)), grade_history.get(g.id, []))
                for g in grades
            ],
            term_grades=[(t, term_history.get(t.id, [])) for t in terms],
            subjects=subjects,
            categories=categories,
            school_year=school_year,
        )

    def _register_class(self, caller: Principal, class_id: str) -> ClassRoster:
        """The class if the caller may export its register: the school's secretary and principal
        and the class's homeroom teacher; PermissionDenied for the school's other staff."""
        roster = self.people.class_roster(class_id)
        if roster is None:
            raise NotFound("nie ma takiej klasy")
        if caller.is_service:
            return roster
        if caller.school_id != roster.school_id or not caller.has_any_role(*STAFF):
            raise NotFound("nie ma takiej klasy")
        if caller.has_any_role("school_admin", "principal") or caller.user_id == roster.homeroom_teacher_id:
            return roster
        raise PermissionDenied("dziennik klasy eksportuje sekretariat, dyrektor lub wychowawca klasy")

    # -- checks and helpers ------------------------------------------------------------------------------

    def _grade_for_correction(self, session: Session, caller: Principal, grade_id: str, expected_version: int):
        """The grade (locked) if the caller may correct it: a teacher of that class and subject,
        or the school's secretary; 409 when the caller saw an older version."""
        grade = session.get(Grade, grade_id, with_for_update=True) if grade_id else None
        if grade is None or grade.deleted_at is not None:
            raise NotFound("nie ma takiej oceny")
        teaching = self.people.teaching(caller.user_id) if "teacher" in caller.roles else Teaching(frozenset(), frozenset())
        student = self._visible_student(caller, grade.student_id, teaching)
        may_correct = ("school_admin" in caller.roles and caller.school_id == grade.school_id) or (grade.class_id, grade.subject_id) in teaching.assignments
        if not may_correct:
            raise PermissionDenied("ocenę poprawia nauczyciel przedmiotu w tej klasie lub sekretariat")
        if expected_version and expected_version != grade.version:
            raise Conflict(f"ocena została w międzyczasie zmieniona (wersja {grade.version}); odśwież i spróbuj ponownie")
        return grade, student, teaching

    def _visible_student(self, caller: Principal, student_id: str, teaching: Teaching | None = None, known: Student | None = None) -> Student:
        """The student if the caller may see them — themself, their parents, the school's
        secretary and principal, teachers of their class — else NotFound (never reveal existence)."""
        student = known or (self.people.student(student_id) if student_id else None)
        if student is None:
            raise NotFound("nie ma takiego ucznia")
        if caller.is_service or caller.user_id == student.id or caller.user_id in student.parent_ids:
            return student  # services (attendance's meeting report) authorize their own callers
        if caller.school_id == student.school_id:
            if caller.has_any_role("school_admin", "principal"):
                return student
            if "teacher" in caller.roles and (teaching or self.people.teaching(caller.user_id)).teaches_class(student.class_id):
                return student
        raise NotFound("nie ma takiego ucznia")

    @staticmethod
    def _category(session: Session, school_id: str, category_id: str) -> GradeCategory | None:
        if not category_id:
            return None
        category = session.get(GradeCategory, category_id)
        if category is None or category.school_id != school_id:
            raise InvalidArgument("nie ma takiej kategorii", field_errors={"category_id": "Nie ma takiej kategorii ocen w tej szkole."})
        return category

    @staticmethod
    def _day(raw: str) -> date:
        if not raw:
            return today()
        day = parse_day(raw, "date")
        if day > today():
            raise InvalidArgument("data w przyszłości", field_errors={"date": "Oceny nie wystawia się z datą przyszłą."})
        return day

    @staticmethod
    def _history(session: Session, grade: Grade, action: str, caller: Principal, old: dict | None, new: dict | None) -> None:
        session.add(HistoryEntry(entity="grade", entity_id=grade.id, action=action, actor_id=caller.user_id, at=_now(), old=old, new=new))

    @staticmethod
    def _view(session: Session, grade: Grade, settings: rules.GradeSettings | None = None) -> GradeView:
        category = session.get(GradeCategory, grade.category_id) if grade.category_id else None
        settings = settings or _settings(session, grade.school_id)
        return GradeView(grade, category, rules.semester_of(grade.issued_on, settings))

    @staticmethod
    def _administered_school(caller: Principal, school_id: str) -> str:
        if not caller.has_any_role("school_admin", "superadmin"):
            raise PermissionDenied("to ustawia sekretariat szkoły")
        school_id = school_id if "superadmin" in caller.roles else (caller.school_id or "")
        if not school_id:
            raise InvalidArgument("brak szkoły", field_errors={"school_id": "Wskaż szkołę."})
        return school_id

    @staticmethod
    def _staff_school(caller: Principal, school_id: str) -> str:
        if not (caller.is_service or caller.has_any_role("superadmin", *STAFF)):
            raise PermissionDenied("to widzi personel szkoły")
        return school_id if (caller.is_service or "superadmin" in caller.roles) else (caller.school_id or "")


def _check_school_year(school_year: str) -> None:
    """An empty school year (the current one) or one like 2026/2027."""
    match = _SCHOOL_YEAR.match(school_year) if school_year else None
    if school_year and not (match and int(match[2]) == int(match[1]) + 1):
        raise InvalidArgument("niepoprawny rok szkolny", field_errors={"school_year": "Rok szkolny w postaci RRRR/RRRR, np. 2026/2027."})


def _report(session: Session, student: Student, school_year: str) -> StudentReport:
    """A student's grades of a school year by subject, with averages, term grades and suggestions."""
    settings = _settings(session, student.school_id)
    categories = {c.id: c for c in session.scalars(select(GradeCategory).where(GradeCategory.school_id == student.school_id))}
    # Plain rows, not ORM objects: a year's page is ~240 grades (the rows have the Grade
    # attributes the views read, and nothing here changes them).
    grades = Grade.__table__
    rows = session.execute(
        select(grades)
        .where(grades.c.student_id == student.id, grades.c.school_id == student.school_id, grades.c.school_year == school_year, grades.c.deleted_at.is_(None))
        .order_by(grades.c.issued_on, grades.c.recorded_at)
    ).all()
    terms = list(session.scalars(select(TermGrade).where(TermGrade.student_id == student.id, TermGrade.school_year == school_year)))
    subject_ids = {g.subject_id for g in rows} | {t.subject_id for t in terms}
    subjects = {s.id: s for s in session.scalars(select(Subject).where(Subject.id.in_(subject_ids)))} if subject_ids else {}
    by_subject: dict[str, tuple[Subject, list[Grade]]] = {subject_id: (subject, []) for subject_id, subject in subjects.items()}
    for grade in rows:
        by_subject[grade.subject_id][1].append(grade)
    reports = []
    for subject, own in sorted(by_subject.values(), key=lambda item: item[0].name):
        counted = [_counted(g, categories.get(g.category_id or "")) for g in own]
        subject_averages = rules.averages(counted, settings)
        reports.append(
            SubjectReport(
                subject=subject,
                grades=[GradeView(g, categories.get(g.category_id or ""), rules.semester_of(g.issued_on, settings)) for g in own],
                averages=subject_averages,
                term_grades={t.kind: t.value for t in terms if t.subject_id == subject.id},
                suggested_semester_grade=rules.suggest_term_grade(subject_averages["semester_1"], settings),
                suggested_annual_grade=rules.suggest_term_grade(subject_averages["year"], settings),
            )
        )
    return StudentReport(student.id, school_year, reports, rules.overall_average(r.averages["year"] for r in reports))


def _settings(session: Session, school_id: str) -> rules.GradeSettings:
    row = session.get(SchoolGradeSettings, school_id)
    if row is None:
        return rules.GradeSettings()
    month, day = (int(part) for part in row.second_semester_starts.split("-"))
    return rules.GradeSettings(
        plus=Decimal(str(row.plus)),
        minus=Decimal(str(row.minus)),
        improved_original_counts=row.improved_original_counts,
        thresholds=tuple((Decimal(a), g) for a, g in row.thresholds),
        allowed_marks=frozenset(row.allowed_marks),
        second_semester_starts=(month, day),
    )


def _histories(session: Session, entity: str, ids) -> dict[str, list[HistoryEntry]]:
    """The history of every `entity` whose id the query `ids` selects, oldest first."""
    found: dict[str, list[HistoryEntry]] = defaultdict(list)
    for entry in session.scalars(select(HistoryEntry).where(HistoryEntry.entity == entity, HistoryEntry.entity_id.in_(ids)).order_by(HistoryEntry.id)):
        found[entry.entity_id].append(entry)
    return found


def _counted(grade: Grade, category: GradeCategory | None) -> rules.CountedGrade:
    # A grade without a category weighs 1 and counts (the school has not set categories up).
    return rules.CountedGrade(
        id=grade.id,
        value=grade.value,
        weight=category.weight if category else 1,
        counts_to_average=category.counts_to_average if category else True,
        issued_on=grade.issued_on,
        improves_grade_id=grade.improves_grade_id,
        is_points=grade.points is not None,
    )


def _snapshot(grade: Grade) -> dict:
    return {"value": grade.value, "comment": grade.comment, "category_id": grade.category_id}


def _diff(these: dict, others: dict) -> dict:
    return {key: value for key, value in these.items() if others.get(key) != value}


def _context(student: Student, subject: Subject, teacher_id: str, teacher_name: str) -> events_pb2.GradeContext:
    return events_pb2.GradeContext(
        school_id=student.school_id,
        student_id=student.id,
        student_first_name=student.first_name,
        student_last_name=student.last_name,
        class_id=student.class_id,
        subject_id=subject.id,
        subject_name=subject.name,
        teacher_id=teacher_id,
        teacher_name=teacher_name,
    )
