"""Students' grades pages kept by gradebook (services/gradebook/pages.py), on PostgreSQL and on
SQLite after the real migrations: a page is served from storage while nothing on it changed, and
every change to what it shows — in the same transaction — makes the next read rebuild it."""
from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from sqlalchemy import select, text

from dziennik.gradebook.v1.events_pb2 import PagesChanged

from platform_kit.auth import Principal
from platform_kit.bus.tables import OUTBOX_TABLE
from platform_kit.db import Database
from platform_kit.errors import InvalidArgument, NotFound
from platform_kit.migrations import upgrade
from services.gradebook import pages
from services.gradebook.averages import GradeSettings
from services.gradebook.events import PAGES_CHANGED
from services.gradebook.use_cases import ClassRoster, Gradebook, Student, Teaching

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "gradebook" / "migrations"
SCHOOL, CLASS = "school-1", "class-1a"
SECRETARY = Principal(user_id="sec", school_id=SCHOOL, roles=frozenset({"school_admin"}))
TEACHER = Principal(user_id="teacher", school_id=SCHOOL, roles=frozenset({"teacher"}))
MUM = Principal(user_id="mum", school_id=SCHOOL, roles=frozenset({"parent"}))


class People:
    """Who gradebook is told about (identity's answers are not what this file tests): Ala and
    Bartek in 1A, Ala's mum, and the teacher of the class's subjects."""

    def __init__(self) -> None:
        self.subjects: list[str] = []

    def student(self, student_id: str) -> Student | None:
        parents = {"ala": frozenset({"mum"}), "bartek": frozenset()}
        return Student(student_id, SCHOOL, CLASS, parents[student_id]) if student_id in parents else None

    def students(self, school_id: str, student_ids: list[str]) -> list[Student]:
        return [s for s in map(self.student, student_ids) if s is not None]

    def teaching(self, teacher_id: str) -> Teaching:
        return Teaching(frozenset((CLASS, s) for s in self.subjects) if teacher_id == "teacher" else frozenset(), frozenset())

    def class_roster(self, class_id: str) -> ClassRoster | None:
        return None


@pytest.fixture(params=["postgresql", "sqlite"])
def school(request, postgres_databases, tmp_path):
    url = postgres_databases("gradebook") if request.param == "postgresql" else f"sqlite:///{tmp_path / 'gradebook.db'}"
    database = Database(url)
    upgrade(database, MIGRATIONS)
    people = People()
    gradebook = Gradebook(database, people)
    maths = gradebook.create_subject(SECRETARY, "Matematyka", "mat", "")
    people.subjects.append(maths)
    gradebook.record_grades(TEACHER, maths, "", "", [{"student_id": "ala", "value": "4"}, {"student_id": "bartek", "value": "3"}])
    yield gradebook, database, maths
    database.dispose()


def page(gradebook: Gradebook, student_id: str = "ala", cached_version: str = "") -> tuple[str, dict | None]:
    version, body = gradebook.student_grades_page(MUM if student_id == "ala" else SECRETARY, student_id, cached_version=cached_version)
    return version, None if body is None else orjson.loads(pages.unpack(body))


def rebuilt(gradebook: Gradebook, student_id: str = "ala") -> dict:
    """What the page shows when built from the rows now."""
    return orjson.loads(pages.render(gradebook.student_grades(SECRETARY, student_id)))


def tamper(database: Database) -> None:
    """Overwrite every stored page, so that a read that answers the marker came from storage."""
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE grade_pages SET body_gzip = :marker"), {"marker": pages.pack(b'{"stored": true}')})


def test_a_page_is_built_once_and_then_served_from_storage(school):
    gradebook, database, _ = school
    version, first = page(gradebook)
    assert first == rebuilt(gradebook) and [g["value"] for g in first["subjects"][0]["grades"]] == ["4"]
    tamper(database)
    assert page(gradebook) == (version, {"stored": True})


def test_a_page_is_stored_gzip_compressed_as_http_sends_it(school):
    gradebook, database, _ = school
    _, body = gradebook.student_grades_page(MUM, "ala")
    assert body[:2] == b"\x1f\x8b"  # gzip's magic number: what Content-Encoding: gzip sends
    with database.engine.connect() as connection:
        assert bytes(connection.execute(text("SELECT body_gzip FROM grade_pages")).scalar()) == body
    assert orjson.loads(pages.unpack(body)) == rebuilt(gradebook)


def _record(gradebook, maths):
    gradebook.record_grades(TEACHER, maths, "", "", [{"student_id": "ala", "value": "5"}, {"student_id": "bartek", "value": "2"}])


def _change(gradebook, maths):
    [grade] = gradebook.student_grades(MUM, "ala").subjects[0].grades
    gradebook.change_grade(TEACHER, grade.grade.id, value="4+", comment=None, category_id=None)


def _delete(gradebook, maths):
    [grade] = gradebook.student_grades(MUM, "ala").subjects[0].grades
    gradebook.delete_grade(TEACHER, grade.grade.id)


def _term_grade(gradebook, maths):
    gradebook.set_term_grade(TEACHER, "ala", maths, "semester_proposed", "4")


def _settings(gradebook, maths):
    gradebook.update_settings(SECRETARY, GradeSettings(second_semester_starts=(1, 2)))  # every grade's semester may move


@pytest.mark.parametrize("change", [_record, _change, _delete, _term_grade, _settings])
def test_every_change_to_what_a_page_shows_makes_it_rebuilt(school, change):
    gradebook, database, maths = school
    version, _ = page(gradebook)
    tamper(database)
    change(gradebook, maths)
    new_version, body = page(gradebook)
    assert new_version != version and body == rebuilt(gradebook) and body != {"stored": True}


def pages_changed(database: Database) -> list[PagesChanged]:
    """The PagesChanged events in gradebook's outbox, oldest first."""
    with database.transaction() as session:
        rows = session.execute(select(OUTBOX_TABLE.c.payload).where(OUTBOX_TABLE.c.routing_key == PAGES_CHANGED.routing_key).order_by(OUTBOX_TABLE.c.seq))
        return [PagesChanged.FromString(row.payload) for row in rows]


@pytest.mark.parametrize(
    "change, students, schools",
    [(_record, {"ala", "bartek"}, set()), (_change, {"ala"}, set()), (_delete, {"ala"}, set()), (_term_grade, {"ala"}, set()), (_settings, set(), {SCHOOL})],
)
def test_every_change_to_what_a_page_shows_says_whose_pages_changed_in_its_transaction(school, change, students, schools):
    """For copies of pages kept outside gradebook (gateway/page_copies.py)."""
    gradebook, database, maths = school
    before = len(pages_changed(database))
    change(gradebook, maths)
    [event] = pages_changed(database)[before:]
    assert (set(event.student_ids), set(event.school_ids)) == (students, schools)


def test_a_refused_change_says_nothing(school):
    gradebook, database, maths = school
    before = len(pages_changed(database))
    with pytest.raises(InvalidArgument):
        gradebook.record_grades(TEACHER, maths, "", "", [{"student_id": "ala", "value": "5"}, {"student_id": "bartek", "value": "7"}])
    assert len(pages_changed(database)) == before


def test_the_schools_grading_rules_change_every_page_of_the_school_and_a_grade_only_its_students(school):
    gradebook, database, maths = school
    page(gradebook, "ala"), page(gradebook, "bartek")
    tamper(database)
    gradebook.record_grades(TEACHER, maths, "", "", [{"student_id": "ala", "value": "6"}])
    assert page(gradebook, "bartek")[1] == {"stored": True}  # Bartek's page did not change
    assert page(gradebook, "ala")[1] == rebuilt(gradebook, "ala")
    tamper(database)
    _settings(gradebook, maths)
    assert page(gradebook, "bartek")[1] == rebuilt(gradebook, "bartek") and page(gradebook, "ala")[1] == rebuilt(gradebook, "ala")


def test_a_caller_holding_the_current_version_gets_no_page_until_it_changes(school):
    gradebook, _, maths = school
    version, body = page(gradebook)
    assert page(gradebook, cached_version=version) == (version, None)
    assert page(gradebook, cached_version="1.0.0.2020/2021")[1] == body  # someone else's version: the page
    _term_grade(gradebook, maths)
    new_version, new_body = page(gradebook, cached_version=version)
    assert new_version != version and new_body["subjects"][0]["term_grades"]["semester_proposed"] == "4"


def test_a_change_committed_while_a_page_was_being_built_leaves_that_page_stale(school):
    """The versions are read before the rows: a grade recorded in between is in the rows, or
    the page it is missing from is stored under versions that are already old."""
    gradebook, database, maths = school
    with database.transaction() as session:
        before = pages.stored(session, "ala", SCHOOL, gradebook.student_grades(MUM, "ala").school_year)
    old_rows = pages.render(gradebook.student_grades(MUM, "ala"))
    gradebook.record_grades(TEACHER, maths, "", "", [{"student_id": "ala", "value": "1"}])  # commits in between
    with database.transaction() as session:
        pages.store(session, "ala", before, old_rows)  # the slow builder stores what it read
    assert [g["value"] for g in page(gradebook)[1]["subjects"][0]["grades"]] == ["4", "1"]


def test_pages_stored_by_an_older_release_are_rebuilt(school):
    gradebook, database, _ = school
    page(gradebook)
    tamper(database)
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE grade_pages SET page_format = :older"), {"older": pages.PAGE_FORMAT - 1})
    assert page(gradebook)[1] == rebuilt(gradebook)


def test_a_caller_who_may_not_see_the_student_gets_nothing_stored_or_built(school):
    gradebook, database, _ = school
    stranger = Principal(user_id="stranger", school_id=SCHOOL, roles=frozenset({"parent"}))
    with pytest.raises(NotFound):
        gradebook.student_grades_page(stranger, "ala")
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM grade_pages")).scalar() == 0


@pytest.mark.parametrize("school_year", ["2026", "2026/2028", "2026/2027 OR 1=1", "x" * 40])
def test_a_malformed_school_year_is_refused_and_nothing_is_stored(school, school_year):
    gradebook, database, _ = school
    with pytest.raises(InvalidArgument) as refused:
        gradebook.student_grades_page(MUM, "ala", school_year)
    assert "school_year" in refused.value.field_errors
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM grade_pages")).scalar() == 0
