"""The audit trail end to end: a parent's read and a teacher's change reach the secretary's
GET /api/v1/audit (about that student, by that account); other roles and schools see nothing; and
a teacher entering an unusual number of grades in a short time sounds the takeover alarm."""
from __future__ import annotations

import uuid

import pytest
import requests

from tests.conftest import wait_for
from tests.system import api

pytestmark = pytest.mark.e2e

PASSWORD = "Audyt-" + uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def school(system):
    seeder = system.seeder()
    operator = seeder.sign_in(system.operator)
    school_id = seeder.school(operator, f"Szkoła audytowana {uuid.uuid4().hex[:6]}", policy="statutory")
    secretary = seeder.person(operator, school_id, "school_admin", "Alicja", "Audytorka", PASSWORD)
    office = seeder.sign_in(secretary)
    teacher = seeder.person(office, school_id, "teacher", "Tomasz", "Tablicowy", PASSWORD)
    class_id = seeder.school_class(office, school_id, "3C", "2026/2027")
    subject_id = seeder.subject(office, "Historia")
    seeder.assign(office, teacher, class_id, subject_id)
    students = [seeder.person(office, school_id, "student", f"Uczeń{n}", "Audytowy", PASSWORD, class_id=class_id) for n in range(3)]
    parent = seeder.person(office, school_id, "parent", "Piotr", "Audytowy", PASSWORD, children=(students[0],))
    other_school = seeder.school(operator, f"Szkoła obca {uuid.uuid4().hex[:6]}")
    stranger = seeder.person(operator, other_school, "school_admin", "Olga", "Obca", PASSWORD)
    return {"secretary": secretary, "teacher": teacher, "students": students, "parent": parent, "subject_id": subject_id, "stranger": stranger}


def test_a_read_and_a_change_are_in_the_schools_audit_trail(system, school):
    child = school["students"][0]
    teacher, parent, office = system.headers(school["teacher"]), system.headers(school["parent"]), system.headers(school["secretary"])
    grade = api(system, "POST", "/grades", teacher, json={"student_id": child.id, "subject_id": school["subject_id"], "value": "4"})
    assert grade.status_code == 201
    assert api(system, "PATCH", f"/grades/{grade.json()['id']}", teacher, json={"value": "5"}).status_code == 200
    assert api(system, "GET", f"/students/{child.id}/grades", parent).status_code == 200
    assert api(system, "GET", f"/students/{school['students'][1].id}/grades", parent).status_code == 404  # not his child: refused, and recorded

    def about_child():
        answer = api(system, "GET", "/audit", office, params={"student_id": child.id})
        assert answer.status_code == 200, answer.text
        return answer.json()["items"] if len(answer.json()["items"]) >= 3 else None

    items = wait_for(about_child, timeout=30, interval=0.5, message="the audit entries")
    seen = {(i["actor_id"], i["action"], i["resource"], i["method"], i["status"]) for i in items}
    assert (school["teacher"].id, "change", "grades", "POST", 201) in seen
    assert (school["teacher"].id, "change", "grades", "PATCH", 200) in seen  # the student named by the answer
    assert (school["parent"].id, "read", "grades", "GET", 200) in seen
    [read] = [i for i in items if i["actor_id"] == school["parent"].id]
    assert read["actor_roles"] == ["parent"] and read["request_id"] and read["subject_kind"] == "student"
    refused = wait_for(lambda: api(system, "GET", "/audit", office, params={"student_id": school["students"][1].id}).json()["items"], timeout=30, message="the refusal")
    assert [(i["actor_id"], i["status"]) for i in refused] == [(school["parent"].id, 404)]
    by_parent = api(system, "GET", "/audit", office, params={"actor_id": school["parent"].id}).json()["items"]
    assert {i["actor_id"] for i in by_parent} == {school["parent"].id}


def test_only_the_schools_admin_reads_its_trail(system, school):
    assert api(system, "GET", "/audit", system.headers(school["teacher"])).status_code == 403
    assert api(system, "GET", "/audit", system.headers(school["parent"])).status_code == 403
    assert api(system, "GET", "/audit", system.headers(school["secretary"]), params={"limit": 0}).status_code == 400
    theirs = api(system, "GET", "/audit", system.headers(school["stranger"]), params={"student_id": school["students"][0].id})
    assert theirs.status_code == 200 and theirs.json()["items"] == []  # another school's secretary sees nothing of ours


def test_an_unusual_number_of_grade_changes_sounds_the_takeover_alarm(system, school):
    teacher = system.headers(school["teacher"])
    batch = {"subject_id": school["subject_id"], "grades": [{"student_id": s.id, "value": "1"} for s in school["students"] for _ in range(15)]}
    assert api(system, "POST", "/grades/batch", teacher, json=batch).status_code == 201  # 45 failing grades in one go
    wait_for(lambda: f"account {school['teacher'].id}" in system.logs() and "possible account takeover" in system.logs(), timeout=30, message="the alarm in the log")
    metrics = requests.get(system.metrics_url("identity"), timeout=10).text
    [alarms] = [float(line.split()[1]) for line in metrics.splitlines() if line.startswith("audit_bulk_grade_changes_total ")]
    assert alarms >= 1
