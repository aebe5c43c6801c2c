"""What a school's secretary (and the platform operator) does: schools, accounts, classes,
parent–child links, teaching assignments and class lists from CSV."""
from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dziennik.identity.v1 import events_pb2, identity_pb2
from platform_kit.auth import Principal
from platform_kit.bus import record_event
from platform_kit.db import Database
from platform_kit.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from services.identity import access, credentials, people
from services.identity.common import USER_CREATED, may_administer, now, require_administrator
from services.identity.orm import Enrolment, ParentLink, School, SchoolClass, TeachingAssignment, User, UserRole

ACTIVATION_VALID_FOR = timedelta(days=14)
MAX_IMPORT_ROWS = 2000


@dataclass
class NewAccount:
    user: User
    activation_code: str
    existing: bool = False


@dataclass
class ImportedRow:
    row: int
    student: NewAccount
    parents: list[NewAccount] = field(default_factory=list)


class SchoolAdministration:
    def __init__(self, database: Database) -> None:
        self.database = database

    # -- schools ------------------------------------------------------------------------------

    def create_school(self, caller: Principal, name: str, policy: str = "") -> str:
        if "superadmin" not in caller.roles:
            raise PermissionDenied("szkoły zakłada operator platformy")
        name = people.check_name("name", name)
        policy = _policy(policy or access.DEFAULT_POLICY)
        with self.database.transaction() as session:
            if session.scalar(select(School).where(School.name == name)) is not None:
                raise Conflict("szkoła o tej nazwie już istnieje")
            school = School(
                id=str(uuid.uuid4()), name=name, access_policy=policy, extended_features=list(access.PRESETS[policy]), created_at=now()
            )
            session.add(school)
        return school.id

    def set_access_policy(self, caller: Principal, school_id: str, policy: str) -> None:
        require_administrator(caller, school_id)
        policy = _policy(policy)
        with self.database.transaction() as session:
            school = session.get(School, school_id)
            if school is None:
                raise NotFound("nie ma takiej szkoły")
            school.access_policy = policy
            school.extended_features = list(access.PRESETS[policy])

    def list_schools(self, caller: Principal) -> list[School]:
        with self.database.transaction() as session:
            query = select(School).order_by(School.name)
            if "superadmin" not in caller.roles:
                query = query.where(School.id == caller.school_id)
            return list(session.scalars(query))

    # -- accounts -------------------------------------------------------------------------------

    def create_user(
        self,
        caller: Principal,
        *,
        role: str,
        first_name: str,
        last_name: str,
        school_id: str = "",
        email: str = "",
        phone: str = "",
        class_id: str = "",
        children: list[str] | None = None,
    ) -> NewAccount:
        """A school-created account with its one-time activation code."""
        school_id = self._school_of_request(caller, school_id)
        if role not in people.ROLES or role == "superadmin":
            raise InvalidArgument("nieznana rola", field_errors={"role": f"Jedna z: {', '.join(people.ROLES[1:])}."})
        if role == "school_admin" and "superadmin" not in caller.roles and caller.school_id != school_id:
            raise PermissionDenied("tylko operator platformy zakłada sekretariat innej szkoły")
        if class_id and role != "student":
            raise InvalidArgument("klasa tylko dla ucznia", field_errors={"class_id": "Klasę podaje się tylko dla ucznia."})
        if children and role != "parent":
            raise InvalidArgument("dzieci tylko dla rodzica", field_errors={"children": "Dzieci podaje się tylko dla rodzica."})
        def create() -> NewAccount:
            with self.database.transaction() as session:
                if session.get(School, school_id) is None:
                    raise NotFound("nie ma takiej szkoły")
                account = self._new_account(session, school_id, role, first_name, last_name, email, phone)
                if class_id:
                    self._enrol(session, account.user, self._class(session, caller, class_id, field_name="class_id"))
                for student_id in children or []:
                    self._link(session, caller, account.user, self._student(session, caller, student_id, "children"))
            return account

        return _retrying_login_clashes(create)

    def list_users(self, caller: Principal, school_id: str = "", role: str = "", class_id: str = "") -> list[tuple[User, str]]:
        """The school's people (with each student's class id), newest last."""
        school_id = self._school_of_request(caller, school_id)
        with self.database.transaction() as session:
            query = (
                select(User, Enrolment.class_id)
                .outerjoin(Enrolment, Enrolment.student_id == User.id)
                .where(User.school_id == school_id)
                .order_by(User.last_name, User.first_name)
            )
            if role:
                query = query.join(UserRole, UserRole.user_id == User.id).where(UserRole.role == role)
            if class_id:
                query = query.where(Enrolment.class_id == class_id)
            return [(user, klass or "") for user, klass in session.execute(query)]

    def link_parent(self, caller: Principal, parent_id: str, student_id: str) -> None:
        with self.database.transaction() as session:
            parent = session.get(User, parent_id)
            if parent is None or not may_administer(caller, parent.school_id) or "parent" not in parent.role_names:
                raise NotFound("nie ma takiego rodzica")
            self._link(session, caller, parent, self._student(session, caller, student_id, "student_id"))

    # -- classes and teaching ---------------------------------------------------------------------

    def create_class(self, caller: Principal, name: str, school_year: str, homeroom_teacher_id: str = "", school_id: str = "") -> str:
        school_id = self._school_of_request(caller, school_id)
        name, school_year = people.check_class_name(name), people.check_school_year(school_year)
        with self.database.transaction() as session:
            if session.get(School, school_id) is None:
                raise NotFound("nie ma takiej szkoły")
            if session.scalar(select(SchoolClass).where(SchoolClass.school_id == school_id, SchoolClass.school_year == school_year, SchoolClass.name == name)):
                raise Conflict(f"klasa {name} w roku {school_year} już istnieje")
            klass = SchoolClass(id=str(uuid.uuid4()), school_id=school_id, name=name, school_year=school_year)
            if homeroom_teacher_id:
                klass.homeroom_teacher_id = self._teacher(session, school_id, homeroom_teacher_id, "homeroom_teacher_id").id
            session.add(klass)
        return klass.id

    def update_class(self, caller: Principal, class_id: str, name: str | None, homeroom_teacher_id: str | None) -> SchoolClass:
        with self.database.transaction() as session:
            klass = self._class(session, caller, class_id)
            if name is not None:
                klass.name = people.check_class_name(name)
            if homeroom_teacher_id is not None:
                klass.homeroom_teacher_id = (
                    self._teacher(session, klass.school_id, homeroom_teacher_id, "homeroom_teacher_id").id if homeroom_teacher_id else None
                )
            return klass

    def list_classes(self, caller: Principal, school_id: str = "") -> list[SchoolClass]:
        if not caller.has_any_role("superadmin", *people.STAFF_ROLES):
            raise PermissionDenied("listę klas widzi personel szkoły")
        school_id = school_id if "superadmin" in caller.roles else (caller.school_id or "")
        with self.database.transaction() as session:
            return list(
                session.scalars(select(SchoolClass).where(SchoolClass.school_id == school_id).order_by(SchoolClass.school_year, SchoolClass.name))
            )

    def assign_teaching(self, caller: Principal, teacher_id: str, class_id: str, subject_id: str) -> str:
        """`subject_id` is gradebook's; the gateway has checked that it belongs to the school."""
        if not subject_id:
            raise InvalidArgument("brak przedmiotu", field_errors={"subject_id": "Wskaż przedmiot."})
        with self.database.transaction() as session:
            klass = self._class(session, caller, class_id)
            teacher = self._teacher(session, klass.school_id, teacher_id, "teacher_id")
            existing = session.scalar(
                select(TeachingAssignment).where(
                    TeachingAssignment.teacher_id == teacher.id, TeachingAssignment.class_id == klass.id, TeachingAssignment.subject_id == subject_id
                )
            )
            if existing is not None:
                return existing.id
            assignment = TeachingAssignment(id=str(uuid.uuid4()), teacher_id=teacher.id, class_id=klass.id, subject_id=subject_id)
            session.add(assignment)
            return assignment.id

    # -- class lists from CSV -----------------------------------------------------------------------

    def import_class_list(self, caller: Principal, class_id: str, data: bytes) -> list[ImportedRow]:
        """Students with their parents from a CSV file, all or nothing. A parent already in the
        school (same e-mail or phone: a sibling's) is linked, not created again."""
        rows = _parse_class_list(data)
        return _retrying_login_clashes(lambda: self._import_rows(caller, class_id, rows))

    def _import_rows(self, caller: Principal, class_id: str, rows: list[tuple[int, dict[str, str]]]) -> list[ImportedRow]:
        problems: dict[str, str] = {}
        imported: list[ImportedRow] = []
        with self.database.transaction() as session:
            klass = self._class(session, caller, class_id)
            for number, row in rows:
                try:
                    student = self._new_account(session, klass.school_id, "student", row["student_first_name"], row["student_last_name"], "", "")
                    self._enrol(session, student.user, klass)
                    result = ImportedRow(number, student)
                    for n in (1, 2):
                        if row.get(f"parent{n}_last_name") or row.get(f"parent{n}_first_name"):
                            parent = self._existing_parent(session, klass.school_id, row.get(f"parent{n}_email", ""), row.get(f"parent{n}_phone", ""))
                            if parent is None:
                                parent = self._new_account(
                                    session,
                                    klass.school_id,
                                    "parent",
                                    row.get(f"parent{n}_first_name", ""),
                                    row.get(f"parent{n}_last_name", ""),
                                    row.get(f"parent{n}_email", ""),
                                    row.get(f"parent{n}_phone", ""),
                                )
                            self._link(session, caller, parent.user, student.user)
                            result.parents.append(parent)
                    imported.append(result)
                except InvalidArgument as exc:
                    for name, message in (exc.field_errors or {"row": exc.detail}).items():
                        problems[f"wiersz {number}: {name}"] = message
            if problems:
                raise InvalidArgument("lista klasy ma błędy; nic nie zostało zapisane", field_errors=problems)
        return imported

    # -- helpers ------------------------------------------------------------------------------------

    def _school_of_request(self, caller: Principal, school_id: str) -> str:
        """The school an administrative request is about: the caller's own, or (superadmin) the named one."""
        if "superadmin" in caller.roles:
            if not school_id:
                raise InvalidArgument("brak szkoły", field_errors={"school_id": "Wskaż szkołę."})
            return school_id
        require_administrator(caller, school_id or caller.school_id)
        return caller.school_id or ""

    def _new_account(self, session: Session, school_id: str, role: str, first_name: str, last_name: str, email: str, phone: str) -> NewAccount:
        first_name = people.check_name("first_name", first_name)
        last_name = people.check_name("last_name", last_name)
        phone = people.normalise_phone(phone)
        email = people.check_email(email)
        code = credentials.new_activation_code()
        user = User(
            id=str(uuid.uuid4()),
            school_id=school_id,
            login=_free_login(session, people.login_stem(first_name, last_name)),
            first_name=first_name,
            last_name=last_name,
            email=email,
            phone=phone,
            created_at=now(),
            roles=[UserRole(role=role)],
            activation_code_hash=credentials.digest(code),
            activation_expires_at=now() + ACTIVATION_VALID_FOR,
        )
        session.add(user)
        session.flush()  # the next login chosen in this transaction must see this one
        created_at = Timestamp()
        created_at.FromDatetime(user.created_at)
        record_event(
            session,
            USER_CREATED,
            events_pb2.UserCreated(user_id=user.id, school_id=school_id, roles=[identity_pb2.Role.Value(f"ROLE_{role.upper()}")], created_at=created_at),
            school_id=school_id,
            subject=user.id,
        )
        return NewAccount(user, code)

    def _existing_parent(self, session: Session, school_id: str, email: str, phone: str) -> NewAccount | None:
        conditions = []
        if email.strip():
            conditions.append(User.email == people.check_email(email))
        if phone.strip():
            conditions.append(User.phone == people.normalise_phone(phone))
        for condition in conditions:
            parent = session.scalar(
                select(User).join(UserRole, UserRole.user_id == User.id).where(User.school_id == school_id, UserRole.role == "parent", condition)
            )
            if parent is not None:
                return NewAccount(parent, "", existing=True)
        return None

    def _class(self, session: Session, caller: Principal, class_id: str, field_name: str = "") -> SchoolClass:
        klass = session.get(SchoolClass, class_id) if class_id else None
        if klass is None or not may_administer(caller, klass.school_id):
            if field_name:
                raise InvalidArgument("nie ma takiej klasy", field_errors={field_name: "Nie ma takiej klasy w tej szkole."})
            raise NotFound("nie ma takiej klasy")
        return klass

    def _student(self, session: Session, caller: Principal, student_id: str, field_name: str) -> User:
        student = session.get(User, student_id) if student_id else None
        if student is None or not may_administer(caller, student.school_id) or "student" not in student.role_names:
            raise InvalidArgument("nie ma takiego ucznia", field_errors={field_name: "Nie ma takiego ucznia w tej szkole."})
        return student

    @staticmethod
    def _teacher(session: Session, school_id: str, teacher_id: str, field_name: str) -> User:
        teacher = session.get(User, teacher_id) if teacher_id else None
        if teacher is None or teacher.school_id != school_id or "teacher" not in teacher.role_names:
            raise InvalidArgument("nie ma takiego nauczyciela", field_errors={field_name: "Nie ma takiego nauczyciela w tej szkole."})
        return teacher

    @staticmethod
    def _enrol(session: Session, student: User, klass: SchoolClass) -> None:
        if student.school_id != klass.school_id:
            raise InvalidArgument("różne szkoły", field_errors={"class_id": "Klasa z innej szkoły."})
        current = session.scalar(select(Enrolment).where(Enrolment.student_id == student.id, Enrolment.school_year == klass.school_year))
        if current is not None:
            session.delete(current)
            session.flush()
        session.add(Enrolment(student_id=student.id, class_id=klass.id, school_year=klass.school_year))

    @staticmethod
    def _link(session: Session, caller: Principal, parent: User, student: User) -> None:
        if parent.school_id != student.school_id:
            raise InvalidArgument("różne szkoły", field_errors={"student_id": "Rodzic i uczeń muszą należeć do jednej szkoły."})
        if session.get(ParentLink, (parent.id, student.id)) is None:
            session.add(ParentLink(parent_id=parent.id, student_id=student.id))
            session.flush()


def _retrying_login_clashes(create):
    """Run `create` again when another request took the login it chose in the meantime (two
    secretaries adding two Jan Kowalskis at once): the next try sees that login taken."""
    for attempt in range(3):
        try:
            return create()
        except IntegrityError as exc:
            if "login" not in str(exc.orig) or attempt == 2:
                raise


def _policy(name: str) -> str:
    if name not in access.PRESETS:
        raise InvalidArgument("nieznana polityka dostępu", field_errors={"access_policy": f"Jedna z: {', '.join(access.PRESETS)}."})
    return name


def _free_login(session: Session, stem: str) -> str:
    if session.get_bind().dialect.name == "postgresql":  # namesakes created at once take turns
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:stem))"), {"stem": f"login:{stem}"})
    taken = set(session.scalars(select(User.login).where(User.login.like(f"{stem}%"))))
    if stem not in taken:
        return stem
    number = 2
    while f"{stem}{number}" in taken:
        number += 1
    return f"{stem}{number}"


# CSV columns, Polish headers as a school exports them, English ones for scripts.
_COLUMNS = {
    "student_first_name": ("imie_ucznia", "imię_ucznia", "uczen_imie", "student_first_name"),
    "student_last_name": ("nazwisko_ucznia", "uczen_nazwisko", "student_last_name"),
    **{
        f"parent{n}_{part}": (f"{pl}_rodzica_{n}", f"{pl}_rodzica{n}", f"rodzic{n}_{pl}", f"parent{n}_{part}")
        for n in (1, 2)
        for part, pl in (("first_name", "imie"), ("last_name", "nazwisko"), ("email", "email"), ("phone", "telefon"))
    },
}


def _parse_class_list(data: bytes) -> list[tuple[int, dict[str, str]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1250")  # Excel on Polish Windows
        except UnicodeDecodeError:
            raise InvalidArgument("nieznane kodowanie", field_errors={"csv": "Zapisz plik jako CSV w UTF-8 lub Windows-1250."}) from None
    if not text.strip():
        raise InvalidArgument("pusty plik", field_errors={"csv": "Plik nie zawiera żadnych wierszy."})
    try:
        dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=";,\t")
    except csv.Error:
        dialect = csv.excel  # one column, or no delimiter to recognise: the column check below explains
    reader = csv.reader(io.StringIO(text), dialect)
    header = [h.strip().lower().replace(" ", "_").replace("ę", "e") for h in next(reader)]
    columns = {}
    for name, aliases in _COLUMNS.items():
        for alias in aliases:
            if alias.replace("ę", "e") in header:
                columns[name] = header.index(alias.replace("ę", "e"))
    missing = [n for n in ("student_first_name", "student_last_name") if n not in columns]
    if missing:
        raise InvalidArgument(
            "brak wymaganych kolumn",
            field_errors={"csv": "Wymagane kolumny: imie_ucznia; nazwisko_ucznia (opcjonalnie imie_rodzica_1, nazwisko_rodzica_1, email_rodzica_1, telefon_rodzica_1, … _2)."},
        )
    rows = []
    for number, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        rows.append((number, {name: values[index].strip() if index < len(values) else "" for name, index in columns.items()}))
    if not rows:
        raise InvalidArgument("brak uczniów", field_errors={"csv": "Plik nie zawiera żadnego ucznia."})
    if len(rows) > MAX_IMPORT_ROWS:
        raise InvalidArgument("za dużo wierszy", field_errors={"csv": f"Najwyżej {MAX_IMPORT_ROWS} uczniów w jednym pliku."})
    return rows
