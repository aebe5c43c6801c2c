"""What identity tells the exports: the names of the people a register or a data export mentions,
and everything it holds about one student (RODO art. 15) — never a secret."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from platform_kit.auth import Principal
from platform_kit.db import Database
from platform_kit.errors import NotFound
from services.identity import access, people
from services.identity.orm import AddOn, Enrolment, Entitlement, ParentLink, School, SchoolClass, User

MAX_PEOPLE = 5000
_IN_BATCH = 500  # ids per IN (…), well under every database's limit of parameters


@dataclass(frozen=True)
class Holding:
    holder_id: str
    product: str
    valid_until: date


@dataclass(frozen=True)
class StudentRecord:
    student: User
    school: School | None
    classes: list[SchoolClass]
    parents: list[User]
    access: list[Holding]


class PersonalRecords:
    def __init__(self, database: Database) -> None:
        self.database = database

    def people(self, caller: Principal, user_ids: list[str]) -> list[tuple[User, str]]:
        """(person, their latest class for a student) of those asked for whom the caller may name:
        anyone of the caller's school for its staff, the school's staff for its parents and
        students, anyone for services. The rest are left out, as if they did not exist."""
        ids = sorted({i for i in user_ids if i})[:MAX_PEOPLE]
        if not ids or not (caller.is_service or caller.school_id):
            return []
        sees_everyone = caller.is_service or caller.has_any_role(*people.STAFF_ROLES)
        found: list[User] = []
        class_of: dict[str, str] = {}
        with self.database.transaction() as session:
            for start in range(0, len(ids), _IN_BATCH):
                query = select(User).where(User.id.in_(ids[start:start + _IN_BATCH]))
                if not caller.is_service:
                    query = query.where(User.school_id == caller.school_id)
                found.extend(u for u in session.scalars(query) if sees_everyone or set(u.role_names) & set(people.STAFF_ROLES))
            students = [u.id for u in found if "student" in u.role_names]
            for start in range(0, len(students), _IN_BATCH):
                enrolments = select(Enrolment).where(Enrolment.student_id.in_(students[start:start + _IN_BATCH])).order_by(Enrolment.school_year)
                class_of.update((e.student_id, e.class_id) for e in session.scalars(enrolments))  # the latest year wins
        return [(u, class_of.get(u.id, "")) for u in sorted(found, key=lambda u: (u.last_name, u.first_name, u.id))]

    def student_record(self, caller: Principal, student_id: str) -> StudentRecord:
        """The student's account (no password, activation code or second-factor secret), school,
        classes by year, linked parents and the access bought for them. For the student, their
        parents and the school's secretary; NotFound for anyone else."""
        with self.database.transaction() as session:
            student = session.get(User, student_id) if student_id else None
            if student is None or "student" not in student.role_names:
                raise NotFound("nie ma takiego ucznia")
            parent = session.get(ParentLink, (caller.user_id, student.id)) is not None
            secretary = "school_admin" in caller.roles and caller.school_id == student.school_id
            if not (caller.is_service or secretary or parent or caller.user_id == student.id):
                raise NotFound("nie ma takiego ucznia")
            classes = list(
                session.scalars(
                    select(SchoolClass).join(Enrolment, Enrolment.class_id == SchoolClass.id).where(Enrolment.student_id == student.id).order_by(Enrolment.school_year)
                )
            )
            parents = list(
                session.scalars(
                    select(User).join(ParentLink, ParentLink.parent_id == User.id).where(ParentLink.student_id == student.id).order_by(User.last_name, User.first_name)
                )
            )
            # A family member sees their own access and the child's; the school sees every holder's.
            holders = None if (caller.is_service or secretary) else {student.id, caller.user_id}
            holdings = [Holding(e.holder_id, access.EXTENDED_ACCESS, e.valid_until) for e in session.scalars(select(Entitlement).where(Entitlement.student_id == student.id))]
            holdings += [Holding(a.holder_id, a.product, a.valid_until) for a in session.scalars(select(AddOn).where(AddOn.student_id == student.id))]
            school = session.get(School, student.school_id) if student.school_id else None
            return StudentRecord(
                student=student,
                school=school,
                classes=classes,
                parents=parents,
                access=sorted((h for h in holdings if holders is None or h.holder_id in holders), key=lambda h: (h.holder_id != student.id, h.holder_id, h.product)),
            )
