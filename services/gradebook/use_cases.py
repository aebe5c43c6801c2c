"""What gradebook does for its callers: record grades and show them to those allowed to see them."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import select

from dziennik.gradebook.v1 import events_pb2
from platform_kit.auth import Principal
from platform_kit.bus import record_event
from platform_kit.db import Database
from platform_kit.errors import InvalidArgument, NotFound, PermissionDenied
from services.gradebook.events import GRADE_RECORDED
from services.gradebook.grades import normalise_grade_value
from services.gradebook.orm import Grade, Subject

SCHOOL_TIME = ZoneInfo("Europe/Warsaw")
STAFF = ("teacher", "school_admin", "principal")
GRADE_WRITERS = ("teacher",)


@dataclass(frozen=True)
class Student:
    """What gradebook needs to know about a student (identity owns the rest)."""

    id: str
    school_id: str
    class_id: str
    parent_ids: frozenset[str]


@dataclass(frozen=True)
class Teaching:
    """What a teacher teaches: (class, subject) pairs, and the classes they are homeroom teacher of."""

    assignments: frozenset[tuple[str, str]]
    homeroom_class_ids: frozenset[str]

    def teaches_class(self, class_id: str) -> bool:
        return class_id in self.homeroom_class_ids or any(c == class_id for c, _ in self.assignments)


class People(Protocol):
    """Identity's answers, as gradebook needs them."""

    def student(self, student_id: str) -> Student | None: ...

    def teaching(self, teacher_id: str) -> Teaching: ...


class Gradebook:
    def __init__(self, database: Database, people: People) -> None:
        self.database = database
        self.people = people

    def create_subject(self, caller: Principal, name: str, short_name: str, school_id: str) -> str:
        if not caller.has_any_role("school_admin", "superadmin"):
            raise PermissionDenied("tylko sekretariat szkoły zakłada przedmioty")
        school_id = school_id if "superadmin" in caller.roles else caller.school_id
        if not school_id:
            raise InvalidArgument("brak szkoły", field_errors={"school_id": "Wskaż szkołę."})
        name = name.strip()
        if not 1 <= len(name) <= 100:
            raise InvalidArgument("niepoprawna nazwa", field_errors={"name": "Nazwa przedmiotu: od 1 do 100 znaków."})
        with self.database.transaction() as session:
            subject = Subject(id=str(uuid.uuid4()), school_id=school_id, name=name, short_name=short_name.strip()[:20])
            session.add(subject)
        return subject.id

    def list_subjects(self, caller: Principal, school_id: str = "") -> list[Subject]:
        school_id = school_id if "superadmin" in caller.roles else (caller.school_id or "")
        if not caller.has_any_role("superadmin", *STAFF):
            raise PermissionDenied("listę przedmiotów widzi personel szkoły")
        with self.database.transaction() as session:
            return list(session.scalars(select(Subject).where(Subject.school_id == school_id).order_by(Subject.name)))

    def get_subject(self, caller: Principal, subject_id: str) -> Subject:
        with self.database.transaction() as session:
            subject = session.get(Subject, subject_id) if subject_id else None
        if subject is None or not ("superadmin" in caller.roles or subject.school_id == caller.school_id):
            raise NotFound("nie ma takiego przedmiotu")
        return subject

    def record_grade(
        self, caller: Principal, student_id: str, subject_id: str, value: str, comment: str, request_id: str = "", category_id: str = ""
    ) -> Grade:
        if not caller.has_any_role(*GRADE_WRITERS):
            raise PermissionDenied("oceny wystawia nauczyciel")
        student = self._visible_student(caller, student_id)
        if (student.class_id, subject_id) not in self.people.teaching(caller.user_id).assignments:
            raise PermissionDenied("ocenę wystawia nauczyciel, który uczy tego przedmiotu w klasie ucznia")
        value = normalise_grade_value(value)
        if len(comment) > 1000:
            raise InvalidArgument("za długi komentarz", field_errors={"comment": "Komentarz: najwyżej 1000 znaków."})
        with self.database.transaction() as session:
            if request_id:
                earlier = session.scalars(
                    select(Grade).where(Grade.teacher_id == caller.user_id, Grade.request_id == request_id)
                ).first()
                if earlier is not None:  # the same request again: answer what was recorded then
                    return earlier
            subject = session.get(Subject, subject_id)
            if subject is None or subject.school_id != student.school_id:
                raise NotFound("nie ma takiego przedmiotu")
            now = datetime.now(timezone.utc)
            grade = Grade(
                id=str(uuid.uuid4()),
                school_id=student.school_id,
                student_id=student.id,
                subject_id=subject.id,
                category_id=category_id or None,
                value=value,
                comment=comment.strip(),
                teacher_id=caller.user_id,
                issued_on=now.astimezone(SCHOOL_TIME).date(),
                recorded_at=now,
                request_id=request_id or None,
            )
            session.add(grade)
            recorded_at = Timestamp()
            recorded_at.FromDatetime(now)
            record_event(
                session,
                GRADE_RECORDED,
                events_pb2.GradeRecorded(
                    grade_id=grade.id,
                    school_id=grade.school_id,
                    student_id=grade.student_id,
                    subject_id=subject.id,
                    subject_name=subject.name,
                    value=grade.value,
                    teacher_id=grade.teacher_id,
                    date=grade.issued_on.isoformat(),
                    recorded_at=recorded_at,
                ),
                school_id=grade.school_id,
                subject=grade.student_id,
            )
        return grade

    def student_grades(self, caller: Principal, student_id: str) -> list[tuple[Subject, list[Grade]]]:
        student = self._visible_student(caller, student_id)
        with self.database.transaction() as session:
            rows = session.execute(
                select(Subject, Grade)
                .join(Grade, Grade.subject_id == Subject.id)
                .where(Grade.student_id == student.id, Grade.school_id == student.school_id)
                .order_by(Subject.name, Grade.recorded_at)
            ).all()
        by_subject: dict[str, tuple[Subject, list[Grade]]] = {}
        for subject, grade in rows:
            by_subject.setdefault(subject.id, (subject, []))[1].append(grade)
        return list(by_subject.values())

    def _visible_student(self, caller: Principal, student_id: str) -> Student:
        """The student if the caller may see them — themself, their parents, the school's
        secretary and principal, teachers of their class — else NotFound (never reveal existence)."""
        student = self.people.student(student_id) if student_id else None
        if student is None:
            raise NotFound("nie ma takiego ucznia")
        if caller.user_id == student.id or caller.user_id in student.parent_ids:
            return student
        if caller.school_id == student.school_id:
            if caller.has_any_role("school_admin", "principal"):
                return student
            if "teacher" in caller.roles and self.people.teaching(caller.user_id).teaches_class(student.class_id):
                return student
        raise NotFound("nie ma takiego ucznia")
