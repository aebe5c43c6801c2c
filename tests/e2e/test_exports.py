"""The exports the law asks for, end to end: the register of a class as XML (valid against the
shipped XSD, with every grade's history, term grades and attendance) for the school's secretary,
principal and homeroom teacher only; a student's data as JSON for their parent (RODO art. 15),
the student and the secretary, never another family."""
from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests
from lxml import etree

from gateway.exports import register
from tests.system import api

pytestmark = pytest.mark.e2e

PASSWORD = "Eksport-dziennika-" + uuid.uuid4().hex[:6]
TODAY = datetime.now(ZoneInfo("Europe/Warsaw")).date()
YEAR = f"{TODAY.year}/{TODAY.year + 1}" if TODAY.month >= 9 else f"{TODAY.year - 1}/{TODAY.year}"
NS = {"r": register.NAMESPACE}
SCHEMA = etree.XMLSchema(etree.parse(str(register.SCHEMA_PATH)))


def ok(answer: requests.Response, status: int = 200) -> dict:
    assert answer.status_code == status, answer.text
    return answer.json() if answer.content else {}


@pytest.fixture(scope="module")
def school(system):
    """Class 2C of a brochure school (grades need extended access there, the export does not):
    homeroom teacher Wanda teaches physics, Marta maths; Ala (her mother) and Bartek (his father).
    Marta records Ala a 4 and corrects it to a 5, Bartek a 3 the secretary deletes; Wanda gives
    Bartek "np"; Ala gets term grades; a maths lesson with Ala late (marked present first) and
    Bartek absent, excused by his father and accepted by Wanda; Ala's mother orders extended access."""
    seeder = system.seeder()
    operator = seeder.sign_in(system.operator)
    school_id = seeder.school(operator, f"Szkoła Eksportowa {uuid.uuid4().hex[:6]}", policy="brochure")
    other_school = seeder.school(operator, f"Szkoła Obca {uuid.uuid4().hex[:6]}", policy="statutory")
    secretary = seeder.person(operator, school_id, "school_admin", "Sabina", "Sekretarska", PASSWORD)
    stranger = seeder.person(operator, other_school, "school_admin", "Olga", "Obca", PASSWORD)
    office = seeder.sign_in(secretary)
    principal = seeder.person(office, school_id, "principal", "Dorota", "Dyrektorska", PASSWORD)
    homeroom = seeder.person(office, school_id, "teacher", "Wanda", "Wychowawczyni", PASSWORD)
    maths_teacher = seeder.person(office, school_id, "teacher", "Marta", "Matematyczna", PASSWORD)
    class_id = seeder.school_class(office, school_id, "2C", YEAR, homeroom=homeroom)
    maths, physics = seeder.subject(office, "Matematyka", "mat"), seeder.subject(office, "Fizyka", "fiz")
    seeder.assign(office, maths_teacher, class_id, maths)
    seeder.assign(office, homeroom, class_id, physics)
    ala = seeder.person(office, school_id, "student", "Ala", "Nowakowska", PASSWORD, class_id=class_id)
    bartek = seeder.person(office, school_id, "student", "Bartek", "Kowalczyk", PASSWORD, class_id=class_id)
    ala_mum = seeder.person(office, school_id, "parent", "Maria", "Nowakowska", PASSWORD, children=(ala,))
    bartek_dad = seeder.person(office, school_id, "parent", "Jan", "Kowalczyk", PASSWORD, children=(bartek,))

    admin, teacher, wanda = system.headers(secretary), system.headers(maths_teacher), system.headers(homeroom)
    mum, dad = system.headers(ala_mum), system.headers(bartek_dad)
    test = ok(api(system, "POST", "/grade-categories", admin, json={"name": "sprawdzian", "weight": 3, "counts_to_average": True}), 201)["id"]
    corrected = ok(api(system, "POST", "/grades", teacher, json={"student_id": ala.id, "subject_id": maths, "category_id": test, "value": "4"}), 201)
    ok(api(system, "PATCH", f"/grades/{corrected['id']}", teacher, json={"value": "5", "comment": "po poprawie", "version": 1}))
    deleted = ok(api(system, "POST", "/grades", teacher, json={"student_id": bartek.id, "subject_id": maths, "value": "3"}), 201)
    ok(api(system, "DELETE", f"/grades/{deleted['id']}", admin), 204)
    ok(api(system, "POST", "/grades", wanda, json={"student_id": bartek.id, "subject_id": physics, "value": "np"}), 201)
    for kind in ("semester_proposed", "semester_final"):
        ok(api(system, "PUT", f"/students/{ala.id}/term-grades/{maths}", teacher, json={"kind": kind, "value": "5"}))
    lesson = ok(api(system, "POST", "/lessons", teacher, json={"class_id": class_id, "subject_id": maths, "date": TODAY.isoformat(), "lesson_no": 3, "topic": "Funkcja liniowa"}), 201)
    ok(api(system, "PUT", f"/lessons/{lesson['id']}/attendance", teacher, json={"entries": [{"student_id": ala.id, "status": "present"}, {"student_id": bartek.id, "status": "absent"}]}))
    ok(api(system, "PUT", f"/lessons/{lesson['id']}/attendance", teacher, json={"entries": [{"student_id": ala.id, "status": "late"}]}))
    excuse = ok(api(system, "POST", f"/students/{bartek.id}/excuses", dad, json={"lesson_ids": [lesson["id"]], "reason": "Wizyta u lekarza"}), 201)
    ok(api(system, "POST", f"/excuses/{excuse['id']}/decision", wanda, json={"decision": "accepted"}))
    order = ok(api(system, "POST", "/billing/orders", mum, json={"product": "extended_access", "student_id": ala.id, "channel": "cash"}), 201)
    return {
        "class_id": class_id, "maths": maths, "physics": physics, "category": test, "corrected": corrected["id"], "deleted": deleted["id"],
        "lesson": lesson["id"], "excuse": excuse["id"], "order": order["id"],
        "ala": ala, "bartek": bartek, "secretary": secretary, "maths_teacher": maths_teacher, "homeroom": homeroom, "ala_mum": ala_mum,
        "admin": admin, "principal": system.headers(principal), "wanda": wanda, "teacher": teacher, "mum": mum, "dad": dad,
        "stranger": system.headers(stranger), "student": system.headers(ala),
    }


def register_of(system, school, who: dict, **params) -> requests.Response:
    return api(system, "GET", f"/classes/{school['class_id']}/register.xml", who, params=params)


def test_the_register_is_valid_xml_with_every_grade_change_term_grade_and_mark(system, school):
    answer = register_of(system, school, school["admin"], school_year=YEAR)

    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("application/xml")
    assert answer.headers["Content-Disposition"] == f'attachment; filename="dziennik-2C-{YEAR.replace("/", "-")}.xml"'
    root = etree.fromstring(answer.content)
    assert SCHEMA.validate(etree.ElementTree(root)), SCHEMA.error_log
    assert root.get("version") == "1.0" and root.tag == f"{{{register.NAMESPACE}}}register"
    assert root.findtext("r:school/r:name", namespaces=NS).startswith("Szkoła Eksportowa")
    assert root.find("r:export/r:generated-by", NS).get("person") == school["secretary"].id
    datetime.fromisoformat(root.findtext("r:export/r:generated-at", namespaces=NS))
    assert (root.findtext("r:class/r:name", namespaces=NS), root.find("r:class", NS).get("school-year")) == ("2C", YEAR)
    assert root.find("r:class/r:homeroom-teacher", NS).get("person") == school["homeroom"].id
    students = [(s.get("number"), s.findtext("r:first-name", namespaces=NS), s.findtext("r:last-name", namespaces=NS)) for s in root.findall("r:students/r:student", NS)]
    assert students == [("1", "Bartek", "Kowalczyk"), ("2", "Ala", "Nowakowska")]
    people = {p.get("id"): (p.findtext("r:first-name", namespaces=NS), p.findtext("r:last-name", namespaces=NS)) for p in root.findall("r:people/r:person", NS)}
    assert people[school["maths_teacher"].id] == ("Marta", "Matematyczna") and people[school["secretary"].id] == ("Sabina", "Sekretarska")
    assert {s.findtext("r:name", namespaces=NS) for s in root.findall("r:subjects/r:subject", NS)} == {"Matematyka", "Fizyka"}

    # Ala's maths grade: a 4 corrected to a 5, by whom and when.
    grade = root.find(f"r:grades/r:grade[@id='{school['corrected']}']", NS)
    assert (grade.get("student"), grade.get("subject"), grade.get("teacher"), grade.get("category")) == (school["ala"].id, school["maths"], school["maths_teacher"].id, school["category"])
    assert (grade.findtext("r:value", namespaces=NS), grade.get("version"), grade.get("deleted"), grade.get("date")) == ("5", "2", "false", TODAY.isoformat())
    changes = grade.findall("r:history/r:change", NS)
    assert [(c.get("action"), c.get("by")) for c in changes] == [("recorded", school["maths_teacher"].id), ("changed", school["maths_teacher"].id)]
    value = changes[1].find("r:field[@name='value']", NS)
    assert (value.findtext("r:old", namespaces=NS), value.findtext("r:new", namespaces=NS)) == ("4", "5")
    # Bartek's deleted 3 stays, with who deleted it.
    deleted = root.find(f"r:grades/r:grade[@id='{school['deleted']}']", NS)
    assert deleted.get("deleted") == "true" and [c.get("by") for c in deleted.findall("r:history/r:change", NS)] == [school["maths_teacher"].id, school["secretary"].id]
    assert len(root.findall("r:grades/r:grade", NS)) == 3
    terms = {(t.get("student"), t.get("kind")): t.findtext("r:value", namespaces=NS) for t in root.findall("r:term-grades/r:term-grade", NS)}
    assert terms == {(school["ala"].id, "semester_proposed"): "5", (school["ala"].id, "semester_final"): "5"}

    [lesson] = root.findall("r:lessons/r:lesson", NS)
    assert (lesson.get("id"), lesson.get("date"), lesson.get("number"), lesson.findtext("r:topic", namespaces=NS)) == (school["lesson"], TODAY.isoformat(), "3", "Funkcja liniowa")
    marks = {m.get("student"): m for m in lesson.findall("r:mark", NS)}
    assert marks[school["ala"].id].get("status") == "late"
    assert [c.get("action") for c in marks[school["ala"].id].findall("r:history/r:change", NS)] == ["marked", "changed"]
    assert marks[school["bartek"].id].get("status") == "excused"
    [excuse] = root.findall("r:excuses/r:excuse", NS)
    assert (excuse.get("id"), excuse.get("status"), excuse.get("decided-by")) == (school["excuse"], "accepted", school["homeroom"].id)


def test_the_principal_and_the_homeroom_teacher_export_the_register_too(system, school):
    for who in (school["principal"], school["wanda"]):
        answer = register_of(system, school, who)
        assert answer.status_code == 200, answer.text
        assert SCHEMA.validate(etree.ElementTree(etree.fromstring(answer.content)))


def test_nobody_else_exports_the_register(system, school):
    def problem(who: dict, status: int, code: str, **params) -> None:
        answer = register_of(system, school, who, **params)
        assert answer.status_code == status, answer.text
        assert answer.headers["Content-Type"].startswith("application/problem+json") and answer.json()["code"] == code

    problem(school["teacher"], 403, "forbidden")  # teaches in 2C, but is not its homeroom teacher
    problem(school["stranger"], 404, "not_found")  # another school's secretary
    problem(school["mum"], 403, "forbidden")  # her child's class: no secret, but not hers to export
    problem(school["student"], 403, "forbidden")
    problem(school["admin"], 400, "validation_error", school_year="1999/2000")
    problem(school["admin"], 400, "validation_error", school_year="2026-2027")
    assert api(system, "GET", f"/classes/{uuid.uuid4()}/register.xml", school["admin"]).status_code == 404
    assert api(system, "GET", f"/classes/{uuid.uuid4()}/register.xml", school["mum"]).status_code == 404  # not her child's class
    assert api(system, "GET", f"/classes/{school['class_id']}/register.xml").status_code == 401


def test_the_schema_is_published(system):
    answer = requests.get(f"{system.url}/api/v1/schemas/register-v1.xsd", timeout=15)

    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/xml")
    assert etree.XMLSchema(etree.fromstring(answer.content)) is not None


def test_a_parent_gets_everything_held_about_their_child_and_nothing_about_another(system, school):
    answer = api(system, "GET", f"/students/{school['ala'].id}/export", school["mum"])

    assert answer.status_code == 200, answer.text  # a brochure school: free all the same (RODO art. 15)
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.headers["Content-Disposition"] == f'attachment; filename="dane-{school["ala"].login}.json"'
    data = answer.json()
    assert (data["format"], data["version"]) == ("dziennik.student-data", "1.0")
    assert data["generated_by"]["id"] == school["ala_mum"].id and data["generated_by"]["roles"] == ["parent"]
    assert data["school"]["name"].startswith("Szkoła Eksportowa")
    assert (data["student"]["first_name"], data["student"]["last_name"], data["student"]["login"]) == ("Ala", "Nowakowska", school["ala"].login)
    assert [(k["name"], k["school_year"], k["homeroom_teacher"]["last_name"]) for k in data["student"]["classes"]] == [("2C", YEAR, "Wychowawczyni")]
    assert [(p["first_name"], p["last_name"]) for p in data["parents"]] == [("Maria", "Nowakowska")]
    [grade] = data["grades"]
    assert (grade["value"], grade["subject"]["name"], grade["category"]["name"], grade["teacher"]["last_name"]) == ("5", "Matematyka", "sprawdzian", "Matematyczna")
    assert [(h["action"], h["old"], h["new"]) for h in grade["history"]][1] == ("changed", {"value": "4", "comment": ""}, {"value": "5", "comment": "po poprawie"})
    assert sorted((t["kind"], t["value"]) for t in data["term_grades"]) == [("semester_final", "5"), ("semester_proposed", "5")]
    [mark] = data["attendance"]
    assert (mark["lesson_id"], mark["status"], mark["topic"], mark["subject"]["name"]) == (school["lesson"], "late", "Funkcja liniowa", "Matematyka")
    assert [h["action"] for h in mark["history"]] == ["marked", "changed"]
    assert data["excuses"] == []
    assert data["notification_settings"] is not None and "sms_enabled" in data["notification_settings"]
    assert [o["id"] for o in data["orders"]] == [school["order"]]
    assert "messages" in {n["data"] for n in data["not_included"]}
    text = answer.text
    assert school["bartek"].id not in text and "Kowalczyk" not in text and school["deleted"] not in text
    for secret in ("password", "totp", "activation", "hash"):
        assert secret not in text.lower()


def test_another_family_and_other_roles_get_the_apis_usual_answers(system, school):
    ala = school["ala"].id
    assert api(system, "GET", f"/students/{ala}/export", school["dad"]).status_code == 404
    assert api(system, "GET", f"/students/{ala}/export", school["stranger"]).status_code == 404
    assert api(system, "GET", f"/students/{uuid.uuid4()}/export", school["mum"]).status_code == 404
    for who in (school["teacher"], school["wanda"], school["principal"]):  # staff of her school: 403, not 404
        answer = api(system, "GET", f"/students/{ala}/export", who)
        assert answer.status_code == 403 and answer.json()["code"] == "forbidden"
    assert api(system, "GET", f"/students/{uuid.uuid4()}/export", school["teacher"]).status_code == 404

    own = ok(api(system, "GET", f"/students/{ala}/export", school["student"]))
    assert own["orders"] is None and [g["value"] for g in own["grades"]] == ["5"]
    office = ok(api(system, "GET", f"/students/{ala}/export", school["admin"]))
    assert office["notification_settings"] is None and [o["id"] for o in office["orders"]] == [school["order"]]
    assert [m["status"] for m in office["attendance"]] == ["late"]
    bartek = ok(api(system, "GET", f"/students/{school['bartek'].id}/export", school["dad"]))
    assert [m["status"] for m in bartek["attendance"]] == ["excused"] and [e["status"] for e in bartek["excuses"]] == ["accepted"]
    assert {g["value"] for g in bartek["grades"]} == {"3", "np"}  # the deleted 3 too, marked so
    assert [g["deleted_at"] is not None for g in bartek["grades"] if g["value"] == "3"] == [True]
