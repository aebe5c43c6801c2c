"""The exports the law asks for, without the running system: the reads gradebook, attendance and
identity gained for them (on SQLite, with identity's answers faked), the class register built from
those reads as XML and checked against the shipped XSD, and a student's data as JSON."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone
from types import SimpleNamespace

import pytest
from lxml import etree

from dziennik.attendance.v1 import attendance_pb2
from dziennik.billing.v1 import billing_pb2
from dziennik.gradebook.v1 import gradebook_pb2
from dziennik.identity.v1 import identity_pb2
from dziennik.notify.v1 import notify_pb2
from gateway.api.exports import StudentExportSchema
from gateway.exports import register, student
from platform_kit.auth import SERVICE, Principal, reset_principal, set_principal
from platform_kit.clock import school_today
from platform_kit.db import Database
from platform_kit.errors import InvalidArgument, NotFound, PermissionDenied
from services.attendance import orm as attendance_orm
from services.attendance.grpc_api import AttendanceServicer
from services.attendance.use_cases import Attendance, Facts, Roster
from services.attendance.use_cases import Student as AttendanceStudent
from services.gradebook import orm as gradebook_orm
from services.gradebook.averages import school_year_of
from services.gradebook.grpc_api import GradebookServicer
from services.gradebook.use_cases import ClassRoster, Gradebook, Student, Teaching
from services.identity import orm as identity_orm
from services.identity.grpc_api import IdentityServicer
from services.identity.records import PersonalRecords

NS = {"r": register.NAMESPACE}
SCHEMA = etree.XMLSchema(etree.parse(str(register.SCHEMA_PATH)))
YEAR = school_year_of(school_today())
TODAY = school_today()
SCHOOL, OTHER_SCHOOL, CLASS = "school-1", "school-2", "class-1a"


def person(user_id: str, *roles: str, school: str = SCHOOL) -> Principal:
    return Principal(user_id=user_id, school_id=school, roles=frozenset(roles))


SECRETARY = person("sec", "school_admin")
HEAD = person("dyr", "principal")
HOMEROOM = person("wych", "teacher")  # homeroom teacher of 1A, teaches physics there
MATHS = person("mat", "teacher")  # teaches maths in 1A, not its homeroom teacher
STRANGER = person("sec2", "school_admin", school=OTHER_SCHOOL)
ALA_MUM = person("mama-ali", "parent")
BARTEK_DAD = person("tata-bartka", "parent")
ALA = person("ala", "student")


def as_caller(principal: Principal, call):
    token = set_principal(principal)
    try:
        return call()
    finally:
        reset_principal(token)


def validate(document: bytes) -> etree._ElementTree:
    tree = etree.ElementTree(etree.fromstring(document))
    assert SCHEMA.validate(tree), SCHEMA.error_log
    return tree


# -- gradebook: every grade of a class or a student with its history ---------------------------------


class GradebookPeople:
    """identity as gradebook sees it: 1A with Ala and Bartek."""

    def __init__(self) -> None:
        self.subjects: dict[str, str] = {}

    def student(self, student_id: str) -> Student | None:
        parents = {"ala": "mama-ali", "bartek": "tata-bartka"}
        if student_id not in parents:
            return None
        first, last = {"ala": ("Ala", "Nowak"), "bartek": ("Bartek", "Kowalski")}[student_id]
        return Student(student_id, SCHOOL, CLASS, frozenset({parents[student_id]}), first, last)

    def students(self, school_id: str, student_ids: list[str]) -> list[Student]:
        return [s for s in map(self.student, student_ids) if s is not None and s.school_id == school_id]

    def teaching(self, teacher_id: str) -> Teaching:
        if teacher_id == "mat":
            return Teaching(frozenset({(CLASS, self.subjects["maths"])}), frozenset(), "Marta Matematyczna")
        if teacher_id == "wych":
            return Teaching(frozenset({(CLASS, self.subjects["physics"])}), frozenset({CLASS}), "Wiesław Wychowawca")
        return Teaching(frozenset(), frozenset())

    def class_roster(self, class_id: str) -> ClassRoster | None:
        return ClassRoster(CLASS, SCHOOL, YEAR, "wych", ("bartek", "ala")) if class_id == CLASS else None


@pytest.fixture
def grades(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'gradebook.db'}")
    gradebook_orm.Base.metadata.create_all(database.engine)
    people = GradebookPeople()
    gradebook = Gradebook(database, people)
    maths = people.subjects["maths"] = gradebook.create_subject(SECRETARY, "Matematyka", "mat", "")
    physics = people.subjects["physics"] = gradebook.create_subject(SECRETARY, "Fizyka", "fiz", "")
    test = gradebook.create_category(SECRETARY, "sprawdzian", 3, True)
    corrected = gradebook.record_grade(MATHS, "ala", maths, "4", category_id=test).grade
    gradebook.change_grade(MATHS, corrected.id, value="5", comment="po poprawie", category_id=None)
    deleted = gradebook.record_grade(MATHS, "bartek", maths, "3").grade
    gradebook.delete_grade(SECRETARY, deleted.id)
    gradebook.record_grade(HOMEROOM, "bartek", physics, "np")
    gradebook.set_term_grade(MATHS, "ala", maths, "semester_proposed", "5")
    gradebook.set_term_grade(MATHS, "ala", maths, "semester_proposed", "4")
    return SimpleNamespace(gradebook=gradebook, maths=maths, physics=physics, category=test, corrected=corrected.id, deleted=deleted.id)


def test_a_class_register_holds_every_grade_with_its_history_deleted_ones_too(grades):
    records = grades.gradebook.grade_records(SECRETARY, class_id=CLASS)

    assert records.school_year == YEAR
    by_id = {view.grade.id: (view, history) for view, history in records.grades}
    assert len(by_id) == 3
    corrected, history = by_id[grades.corrected]
    assert corrected.grade.value == "5" and corrected.category.name == "sprawdzian"
    assert [(h.action, h.actor_id) for h in history] == [("recorded", "mat"), ("changed", "mat")]
    assert history[1].old == {"value": "4", "comment": ""} and history[1].new == {"value": "5", "comment": "po poprawie"}
    deleted, history = by_id[grades.deleted]
    assert deleted.grade.deleted_at is not None and [(h.action, h.actor_id) for h in history] == [("recorded", "mat"), ("deleted", "sec")]
    [(term, term_history)] = records.term_grades
    assert (term.student_id, term.kind, term.value) == ("ala", "semester_proposed", "4")
    assert [(h.old, h.new) for h in term_history] == [(None, {"kind": "semester_proposed", "value": "5"}), ({"value": "5"}, {"kind": "semester_proposed", "value": "4"})]
    assert [s.name for s in records.subjects] == ["Fizyka", "Matematyka"]


def test_only_the_office_the_principal_and_the_homeroom_teacher_read_a_class_register(grades):
    for allowed in (SECRETARY, HEAD, HOMEROOM, SERVICE):
        assert len(grades.gradebook.grade_records(allowed, class_id=CLASS).grades) == 3
    with pytest.raises(PermissionDenied):
        grades.gradebook.grade_records(MATHS, class_id=CLASS)  # teaches in 1A, but is not its homeroom teacher
    for outsider in (STRANGER, ALA_MUM, ALA):
        with pytest.raises(NotFound):
            grades.gradebook.grade_records(outsider, class_id=CLASS)
    with pytest.raises(NotFound):
        grades.gradebook.grade_records(SECRETARY, class_id="no-such-class")


def test_a_students_grade_records_are_theirs_alone_and_only_for_those_who_may_see_them(grades):
    records = grades.gradebook.grade_records(ALA_MUM, student_id="ala")

    assert {view.grade.student_id for view, _ in records.grades} == {"ala"}
    assert records.school_year == ""  # every school year
    assert len(records.term_grades) == 1
    assert len(grades.gradebook.grade_records(ALA, student_id="ala").grades) == 1
    with pytest.raises(NotFound):
        grades.gradebook.grade_records(BARTEK_DAD, student_id="ala")
    assert grades.gradebook.grade_records(ALA_MUM, student_id="ala", school_year="2000/2001").grades == []


@pytest.mark.parametrize(("arguments", "field"), [({}, "class_id"), ({"class_id": CLASS, "student_id": "ala"}, "class_id"), ({"class_id": CLASS, "school_year": "2026-2027"}, "school_year"), ({"class_id": CLASS, "school_year": "2026/2028"}, "school_year")])
def test_a_grade_records_request_names_a_class_or_a_student_and_a_real_school_year(grades, arguments, field):
    with pytest.raises(InvalidArgument) as caught:
        grades.gradebook.grade_records(SECRETARY, **arguments)
    assert field in caught.value.field_errors


def test_the_grade_records_rpc_carries_history_and_deletion(grades):
    answer = as_caller(SECRETARY, lambda: GradebookServicer(grades.gradebook).ListGradeRecords(gradebook_pb2.ListGradeRecordsRequest(class_id=CLASS), None))

    by_id = {r.grade.id: r for r in answer.grades}
    assert by_id[grades.deleted].HasField("deleted_at") and not by_id[grades.corrected].HasField("deleted_at")
    assert json.loads(by_id[grades.corrected].history[1].old_json) == {"value": "4", "comment": ""}
    assert {c.name for c in answer.categories} == {"sprawdzian"} and answer.school_year == YEAR
    assert [t.value for t in answer.term_grades] == ["4"] and len(answer.term_grades[0].history) == 2
    one = as_caller(SECRETARY, lambda: GradebookServicer(grades.gradebook).GetGradeHistory(gradebook_pb2.GetGradeHistoryRequest(grade_id=grades.corrected), None))
    assert list(one.entries) == list(by_id[grades.corrected].history)  # the same history either way


# -- attendance: every lesson and mark of a class or a student with history ------------------------


class AttendanceDirectory:
    """identity and gradebook as attendance sees them."""

    def __init__(self, maths: str, physics: str) -> None:
        self.maths, self.physics = maths, physics

    def student(self, student_id: str) -> AttendanceStudent | None:
        parents = {"ala": "mama-ali", "bartek": "tata-bartka"}
        return AttendanceStudent(student_id, SCHOOL, CLASS, frozenset({parents[student_id]}), student_id.title(), "X") if student_id in parents else None

    def roster(self, class_id: str) -> Roster | None:
        if class_id != CLASS:
            return None
        return Roster(CLASS, SCHOOL, "1A", YEAR, "wych", "Szkoła Podstawowa nr 1", [("bartek", "Bartek", "Kowalski"), ("ala", "Ala", "Nowak")])

    def facts(self, user_id: str) -> Facts:
        return {
            "mat": Facts(frozenset({(CLASS, self.maths)}), frozenset(), frozenset()),
            "wych": Facts(frozenset({(CLASS, self.physics)}), frozenset({CLASS}), frozenset()),
        }.get(user_id, Facts(frozenset(), frozenset(), frozenset()))

    def subject_name(self, subject_id: str) -> str | None:
        return {self.maths: "Matematyka", self.physics: "Fizyka"}.get(subject_id)


@pytest.fixture
def attendance(tmp_path, grades):
    database = Database(f"sqlite:///{tmp_path / 'attendance.db'}")
    attendance_orm.Base.metadata.create_all(database.engine)
    service = Attendance(database, AttendanceDirectory(grades.maths, grades.physics))
    service.create_type(SECRETARY, "wycieczka", "Wycieczka klasowa", "school_absence")
    maths_lesson = service.open_lesson(MATHS, CLASS, grades.maths, TODAY.isoformat(), 1, "Ułamki zwykłe")
    service.mark(MATHS, maths_lesson.id, [("ala", "present"), ("bartek", "absent")])
    service.mark(HOMEROOM, maths_lesson.id, [("ala", "late")])
    excuse = service.submit_excuse(BARTEK_DAD, "bartek", [maths_lesson.id], [], "Wizyta u lekarza")
    service.decide_excuse(HOMEROOM, excuse.id, "accepted")
    physics_lesson = service.open_lesson(HOMEROOM, CLASS, grades.physics, TODAY.isoformat(), 2, "Ruch jednostajny")
    service.mark(HOMEROOM, physics_lesson.id, [("ala", "wycieczka"), ("bartek", "present")])
    return SimpleNamespace(service=service, maths_lesson=maths_lesson.id, physics_lesson=physics_lesson.id, excuse=excuse.id)


def test_a_class_register_holds_every_lesson_mark_and_its_history(attendance):
    records = attendance.service.attendance_records(HOMEROOM, class_id=CLASS)

    assert records.school_year == YEAR
    assert [(l.id, l.subject_name) for l, _ in records.lessons] == [(attendance.maths_lesson, "Matematyka"), (attendance.physics_lesson, "Fizyka")]
    maths_marks = {r.mark.student_id: r for r in records.lessons[0][1]}
    assert (maths_marks["ala"].mark.status, [h.action for h in maths_marks["ala"].history]) == ("late", ["marked", "changed"])
    assert (maths_marks["bartek"].mark.status, [h.action for h in maths_marks["bartek"].history]) == ("excused", ["marked", "excused"])
    [(excuse, history)] = records.excuses
    assert excuse.status == "accepted" and [(h.action, h.actor_id) for h in history] == [("submitted", "tata-bartka"), ("accepted", "wych")]
    assert [t.code for t in records.types] == ["wycieczka"]


def test_only_the_office_the_principal_and_the_homeroom_teacher_read_a_class_attendance(attendance):
    for allowed in (SECRETARY, HEAD, SERVICE):
        assert len(attendance.service.attendance_records(allowed, class_id=CLASS).lessons) == 2
    with pytest.raises(PermissionDenied):
        attendance.service.attendance_records(MATHS, class_id=CLASS)
    for outsider in (STRANGER, ALA_MUM, ALA):
        with pytest.raises(NotFound):
            attendance.service.attendance_records(outsider, class_id=CLASS)


def test_a_students_attendance_records_never_show_another_students_mark(attendance):
    records = attendance.service.attendance_records(ALA_MUM, student_id="ala")

    assert [r.mark.student_id for _, marks in records.lessons for r in marks] == ["ala", "ala"]
    assert records.excuses == []  # Bartek's excuse is not Ala's
    assert [r.mark.student_id for _, marks in attendance.service.attendance_records(BARTEK_DAD, student_id="bartek").lessons for r in marks] == ["bartek", "bartek"]
    with pytest.raises(NotFound):
        attendance.service.attendance_records(BARTEK_DAD, student_id="ala")
    with pytest.raises(InvalidArgument):
        attendance.service.attendance_records(SECRETARY, class_id=CLASS, school_year="2026")


def test_the_attendance_records_rpc_gives_lesson_hours_and_iso_times(attendance):
    servicer = AttendanceServicer(attendance.service, reports=None)
    answer = as_caller(SECRETARY, lambda: servicer.ListAttendanceRecords(attendance_pb2.ListAttendanceRecordsRequest(class_id=CLASS), None))

    first = answer.lessons[0]
    assert (first.lesson.starts, first.lesson.ends, first.lesson.topic, first.subject_name) == ("08:00", "08:45", "Ułamki zwykłe", "Matematyka")
    assert all(datetime.fromisoformat(m.marked_at).tzinfo is not None for l in answer.lessons for m in l.marks)
    assert json.loads(first.marks[0].history[-1].new_json)["status"] in ("late", "excused")


# -- identity: names for the exports, and a student's record -------------------------------------------


@pytest.fixture
def identity(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'identity.db'}")
    identity_orm.Base.metadata.create_all(database.engine)
    now = datetime.now(timezone.utc)
    with database.transaction() as session:
        session.add(identity_orm.School(id=SCHOOL, name="Szkoła Podstawowa nr 1", access_policy="brochure", extended_features=["grades"], created_at=now))
        session.add(identity_orm.School(id=OTHER_SCHOOL, name="Liceum nr 2", access_policy="brochure", extended_features=["grades"], created_at=now))
        users = [
            ("sec", SCHOOL, "school_admin", "Sabina", "Sekretarska"), ("wych", SCHOOL, "teacher", "Wiesław", "Wychowawca"),
            ("ala", SCHOOL, "student", "Ala", "Nowak"), ("bartek", SCHOOL, "student", "Bartek", "Kowalski"),
            ("mama-ali", SCHOOL, "parent", "Maria", "Nowak"), ("tata-ali", SCHOOL, "parent", "Tomasz", "Nowak"),
            ("tata-bartka", SCHOOL, "parent", "Jan", "Kowalski"), ("sec2", OTHER_SCHOOL, "school_admin", "Inna", "Szkoła"),
        ]
        for user_id, school, role, first, last in users:
            session.add(identity_orm.User(
                id=user_id, school_id=school, login=f"{first}.{last}.{user_id}".lower(), first_name=first, last_name=last, created_at=now,
                password_hash="$argon2id$secret" if user_id == "ala" else None, totp_secret="TOTPSECRET" if role == "school_admin" else None,
                email=f"{user_id}@example.org",
            ))
            session.flush()
            session.add(identity_orm.UserRole(user_id=user_id, role=role))
        session.add(identity_orm.SchoolClass(id=CLASS, school_id=SCHOOL, name="1A", school_year=YEAR, homeroom_teacher_id="wych"))
        session.flush()
        session.add_all([identity_orm.Enrolment(student_id=s, class_id=CLASS, school_year=YEAR) for s in ("ala", "bartek")])
        session.add_all([identity_orm.ParentLink(parent_id=p, student_id=s) for p, s in (("mama-ali", "ala"), ("tata-ali", "ala"), ("tata-bartka", "bartek"))])
        until = date(TODAY.year + 1, 6, 30)
        session.add_all([identity_orm.Entitlement(holder_id=h, student_id="ala", valid_until=until, updated_at=now) for h in ("mama-ali", "tata-ali", "ala")])
        session.add(identity_orm.AddOn(holder_id="mama-ali", student_id="ala", product="sms_alerts", valid_until=until, updated_at=now))
    return PersonalRecords(database)


def test_staff_name_everyone_of_their_school_and_families_only_the_staff(identity):
    everyone = ["sec", "wych", "ala", "bartek", "mama-ali", "sec2", "nobody"]

    assert [u.id for u, _ in identity.people(HOMEROOM, everyone)] == ["bartek", "ala", "mama-ali", "sec", "wych"]
    assert dict((u.id, c) for u, c in identity.people(SECRETARY, everyone))["ala"] == CLASS
    assert [u.id for u, _ in identity.people(ALA_MUM, everyone)] == ["sec", "wych"]
    assert [u.id for u, _ in identity.people(ALA, everyone)] == ["sec", "wych"]
    assert [u.id for u, _ in identity.people(STRANGER, everyone)] == ["sec2"]
    assert len(identity.people(SERVICE, everyone)) == 6
    assert identity.people(ALA_MUM, []) == []


def test_a_students_record_is_for_the_family_and_the_school_office_without_secrets(identity):
    def record(principal: Principal) -> identity_pb2.GetStudentRecordResponse:
        servicer = SimpleNamespace(records=identity)
        return as_caller(principal, lambda: IdentityServicer.GetStudentRecord(servicer, identity_pb2.GetStudentRecordRequest(student_id="ala"), None))

    mums = record(ALA_MUM)
    assert (mums.first_name, mums.last_name, mums.login, mums.activated, mums.school.name) == ("Ala", "Nowak", "ala.nowak.ala", True, "Szkoła Podstawowa nr 1")
    assert [(k.name, k.school_year, k.homeroom_teacher_id) for k in mums.classes] == [("1A", YEAR, "wych")]
    assert [p.id for p in mums.parents] == ["mama-ali", "tata-ali"]
    assert sorted((a.holder_id, a.product) for a in mums.access) == [("ala", "extended_access"), ("mama-ali", "extended_access"), ("mama-ali", "sms_alerts")]
    assert not {f.name for f in identity_pb2.GetStudentRecordResponse.DESCRIPTOR.fields} & {"password_hash", "totp_secret", "activation_code"}
    assert "secret" not in str(mums).lower()
    assert {a.holder_id for a in record(SECRETARY).access} == {"ala", "mama-ali", "tata-ali"}
    assert {a.holder_id for a in record(ALA).access} == {"ala"}
    for outsider in (BARTEK_DAD, HOMEROOM, STRANGER, person("bartek", "student")):
        with pytest.raises(NotFound):
            record(outsider)


# -- the register as XML -------------------------------------------------------------------------------


def roster_message() -> identity_pb2.GetClassRosterResponse:
    return identity_pb2.GetClassRosterResponse(
        **{"class": identity_pb2.SchoolClass(id=CLASS, school_id=SCHOOL, name="1A", school_year=YEAR, homeroom_teacher_id="wych")},
        school_name="Szkoła Podstawowa nr 1 im. Marii Skłodowskiej-Curie",
        students=[identity_pb2.RosterStudent(id="bartek", first_name="Bartek", last_name="Kowalski"), identity_pb2.RosterStudent(id="ala", first_name="Ala", last_name="Nowak")],
    )


def staff() -> list[identity_pb2.DirectoryPerson]:
    return [
        identity_pb2.DirectoryPerson(id="sec", first_name="Sabina", last_name="Sekretarska", roles=[identity_pb2.ROLE_SCHOOL_ADMIN]),
        identity_pb2.DirectoryPerson(id="wych", first_name="Wiesław", last_name="Wychowawca", roles=[identity_pb2.ROLE_TEACHER]),
        identity_pb2.DirectoryPerson(id="mat", first_name="Marta", last_name="Matematyczna", roles=[identity_pb2.ROLE_TEACHER]),
        identity_pb2.DirectoryPerson(id="tata-bartka", first_name="Jan", last_name="Kowalski", roles=[identity_pb2.ROLE_PARENT]),
    ]


def build(grades_answer, attendance_answer, people=None) -> bytes:
    return register.register_xml(
        roster=roster_message(), grades=grades_answer, attendance=attendance_answer, people=staff() if people is None else people,
        exported_by="sec", exported_at=datetime(2027, 6, 30, 12, 0, tzinfo=timezone.utc), schema_url="http://localhost:8080/api/v1/schemas/register-v1.xsd",
    )


@pytest.fixture
def answers(grades, attendance):
    grades_answer = as_caller(SECRETARY, lambda: GradebookServicer(grades.gradebook).ListGradeRecords(gradebook_pb2.ListGradeRecordsRequest(class_id=CLASS), None))
    attendance_answer = as_caller(
        SECRETARY, lambda: AttendanceServicer(attendance.service, reports=None).ListAttendanceRecords(attendance_pb2.ListAttendanceRecordsRequest(class_id=CLASS), None)
    )
    return SimpleNamespace(grades=grades_answer, attendance=attendance_answer, ids=grades, lessons=attendance)


def test_the_register_built_from_the_services_reads_is_valid_and_names_everyone(answers):
    document = build(answers.grades, answers.attendance)
    root = validate(document).getroot()

    assert document.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert root.tag == f"{{{register.NAMESPACE}}}register" and root.get("version") == "1.0"
    assert root.findtext("r:export/r:generated-at", namespaces=NS) == "2027-06-30T12:00:00+00:00"
    assert root.find("r:export/r:generated-by", NS).get("person") == "sec"
    assert root.findtext("r:school/r:name", namespaces=NS) == "Szkoła Podstawowa nr 1 im. Marii Skłodowskiej-Curie"
    assert (root.find("r:class", NS).get("school-year"), root.findtext("r:class/r:name", namespaces=NS)) == (YEAR, "1A")
    students = root.findall("r:students/r:student", NS)
    assert [(s.get("number"), s.findtext("r:last-name", namespaces=NS)) for s in students] == [("1", "Kowalski"), ("2", "Nowak")]
    people = {p.get("id"): p for p in root.findall("r:people/r:person", NS)}
    assert set(people) == {"sec", "wych", "mat", "tata-bartka"}
    assert (people["mat"].findtext("r:first-name", namespaces=NS), people["mat"].get("roles")) == ("Marta", "teacher")
    assert [s.findtext("r:name", namespaces=NS) for s in root.findall("r:subjects/r:subject", NS)] == ["Fizyka", "Matematyka"]


def test_the_register_keeps_every_grade_change_with_who_and_when(answers):
    root = validate(build(answers.grades, answers.attendance)).getroot()

    corrected = root.find(f"r:grades/r:grade[@id='{answers.ids.corrected}']", NS)
    assert (corrected.findtext("r:value", namespaces=NS), corrected.get("teacher"), corrected.get("version"), corrected.get("deleted")) == ("5", "mat", "2", "false")
    assert corrected.get("category") == answers.ids.category and corrected.findtext("r:weight", namespaces=NS) == "3"
    assert corrected.findtext("r:comment", namespaces=NS) == "po poprawie"
    changes = corrected.findall("r:history/r:change", NS)
    assert [(c.get("action"), c.get("by")) for c in changes] == [("recorded", "mat"), ("changed", "mat")]
    value = changes[1].find("r:field[@name='value']", NS)
    assert (value.findtext("r:old", namespaces=NS), value.findtext("r:new", namespaces=NS)) == ("4", "5")
    assert changes[0].find("r:field[@name='value']/r:old", NS) is None  # nothing before it was recorded
    datetime.fromisoformat(changes[1].get("at"))

    deleted = root.find(f"r:grades/r:grade[@id='{answers.ids.deleted}']", NS)
    assert deleted.get("deleted") == "true" and deleted.find("r:deleted-at", NS) is not None
    assert [c.get("by") for c in deleted.findall("r:history/r:change", NS)] == ["mat", "sec"]
    [term] = root.findall("r:term-grades/r:term-grade", NS)
    assert (term.get("student"), term.get("kind"), term.findtext("r:value", namespaces=NS)) == ("ala", "semester_proposed", "4")
    assert [f.findtext("r:new", namespaces=NS) for f in term.findall("r:history/r:change/r:field[@name='value']", NS)] == ["5", "4"]
    kinds = {k.get("code"): k.findtext("r:name", namespaces=NS) for k in root.findall("r:term-grade-kinds/r:kind", NS)}
    assert kinds["annual_final"] == "roczna ocena klasyfikacyjna"


def test_the_register_holds_every_lesson_mark_and_excuse(answers):
    root = validate(build(answers.grades, answers.attendance)).getroot()

    lessons = root.findall("r:lessons/r:lesson", NS)
    assert [(l.get("number"), l.get("starts"), l.findtext("r:topic", namespaces=NS)) for l in lessons] == [("1", "08:00:00", "Ułamki zwykłe"), ("2", "08:55:00", "Ruch jednostajny")]
    marks = {m.get("student"): m for m in lessons[0].findall("r:mark", NS)}
    assert [m.get("student") for m in lessons[0].findall("r:mark", NS)] == ["bartek", "ala"]  # register order
    assert marks["bartek"].get("status") == "excused"
    assert [(c.get("action"), c.get("by")) for c in marks["bartek"].findall("r:history/r:change", NS)] == [("marked", "mat"), ("excused", "wych")]
    assert {m.get("status") for m in lessons[1].findall("r:mark", NS)} == {"wycieczka", "present"}
    statuses = {s.get("code"): (s.findtext("r:name", namespaces=NS), s.get("counts-as"), s.get("school-defined")) for s in root.findall("r:attendance-statuses/r:status", NS)}
    assert statuses["wycieczka"] == ("Wycieczka klasowa", "school_absence", "true") and statuses["absent"] == ("nieobecny (nb)", "absent", "false")
    [excuse] = root.findall("r:excuses/r:excuse", NS)
    assert (excuse.get("student"), excuse.get("status"), excuse.get("submitted-by"), excuse.get("decided-by")) == ("bartek", "accepted", "tata-bartka", "wych")
    assert excuse.findtext("r:reason", namespaces=NS) == "Wizyta u lekarza" and [l.get("ref") for l in excuse.findall("r:lesson", NS)] == [answers.lessons.maths_lesson]


def test_people_the_system_no_longer_knows_stay_valid_references(answers):
    root = validate(build(answers.grades, answers.attendance, people=[])).getroot()

    unknown = {p.get("id"): p.get("known") for p in root.findall("r:people/r:person", NS)}
    assert unknown == {"sec": "false", "wych": "false", "mat": "false", "tata-bartka": "false"}


def test_the_schema_refuses_a_register_naming_someone_it_does_not_define(answers):
    root = etree.fromstring(build(answers.grades, answers.attendance))
    people = root.find("r:people", NS)
    people.remove(people.find("r:person[@id='mat']", NS))

    assert not SCHEMA.validate(etree.ElementTree(root))
    assert "mat" in str(SCHEMA.error_log)


def test_a_student_graded_in_the_class_who_left_it_stays_in_the_register_and_text_is_kept_xml_safe():
    grades_answer = gradebook_pb2.ListGradeRecordsResponse(
        school_year=YEAR,
        subjects=[gradebook_pb2.Subject(id="maths", name="Matematyka")],
        grades=[gradebook_pb2.GradeRecord(
            grade=gradebook_pb2.Grade(id="g1", student_id="cezary", subject_id="maths", value="17/20", points="17", max_points="20", teacher_id="mat",
                                      date="2026-10-01", semester=1, version=1, weight=1, counts_to_average=False, comment="dzwonek\x07 — świetnie"),
        )],
    )
    people = staff() + [identity_pb2.DirectoryPerson(id="cezary", first_name="Cezary", last_name="Żółć", roles=[identity_pb2.ROLE_STUDENT])]
    root = validate(build(grades_answer, attendance_pb2.ListAttendanceRecordsResponse(school_year=YEAR), people)).getroot()

    left = root.find("r:students/r:student[@id='cezary']", NS)
    assert (left.get("enrolled"), left.get("number"), left.findtext("r:last-name", namespaces=NS)) == ("false", None, "Żółć")
    grade = root.find("r:grades/r:grade", NS)
    assert (grade.findtext("r:points", namespaces=NS), grade.findtext("r:max-points", namespaces=NS)) == ("17", "20")
    assert grade.findtext("r:comment", namespaces=NS) == "dzwonek\ufffd — świetnie"


def test_the_register_file_name_is_plain_ascii():
    assert register.filename("1A", "2026/2027") == "dziennik-1A-2026-2027.xml"
    assert register.filename("2 Ł\"b", "2026/2027") == "dziennik-2-b-2026-2027.xml"


# -- a student's data as JSON ---------------------------------------------------------------------------


def test_a_students_data_names_people_and_holds_only_that_child(answers, identity):
    record = as_caller(ALA_MUM, lambda: IdentityServicer.GetStudentRecord(SimpleNamespace(records=identity), identity_pb2.GetStudentRecordRequest(student_id="ala"), None))
    mum = identity_pb2.DirectoryPerson(id="mama-ali", first_name="Maria", last_name="Nowak", roles=[identity_pb2.ROLE_PARENT])
    orders = [
        billing_pb2.Order(id="o1", transaction_number="DZ000000010", status="paid", amount=2200, currency="PLN", product="extended_access", student_id="ala", parent_id="mama-ali", channel="cash", created_at="2026-09-02T10:00:00+00:00"),
        billing_pb2.Order(id="o2", transaction_number="DZ000000028", status="pending", amount=2200, currency="PLN", product="extended_access", student_id="bartek", parent_id="mama-ali", channel="payu", created_at="2026-09-03T10:00:00+00:00"),
    ]
    settings = notify_pb2.Settings(sms_enabled=True, phone="+48600100200", events=["grade_recorded"], quiet_from="21:00", quiet_to="07:00")
    # The class-wide answers hold Bartek too: the document must still carry only Ala's data.
    document = student.student_export(
        record=record, grades=answers.grades, attendance=answers.attendance, people=staff(), exported_by=mum,
        exported_at=datetime(2027, 1, 10, 8, 0, tzinfo=timezone.utc), notification_settings=settings, orders=orders,
    )

    assert StudentExportSchema().dump(document) == document  # the documented shape is the whole document
    assert (document["format"], document["version"], document["generated_by"]["last_name"]) == ("dziennik.student-data", "1.0", "Nowak")
    assert document["student"]["login"] == "ala.nowak.ala" and document["school"]["name"] == "Szkoła Podstawowa nr 1"
    assert [m["status"] for m in document["attendance"]] == ["late", "wycieczka"]
    assert document["attendance"][1]["status_counts_as"] == "school_absence"
    assert document["attendance"][0]["teacher"] == {"id": "mat", "first_name": "Marta", "last_name": "Matematyczna"}
    assert document["excuses"] == [] and [o["id"] for o in document["orders"]] == ["o1"]
    assert document["notification_settings"]["quiet_hours"] == {"from": "21:00", "to": "07:00"}
    assert {n["data"] for n in document["not_included"]} >= {"messages"}
    assert "bartek" not in json.dumps([document["attendance"], document["excuses"], document["orders"]])
    assert "Bartek" not in json.dumps(document) and "Kowalski" not in json.dumps(document)


def test_the_student_data_file_name_is_plain_ascii():
    assert student.filename("ala.nowak") == "dane-ala.nowak.json"
    assert student.filename("żaneta.łuk") == "dane-aneta.-uk.json"
