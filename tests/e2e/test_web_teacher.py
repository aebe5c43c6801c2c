"""A teacher's lesson in the web app, through the UI only: sign in with the TOTP code, enter a
class's test grades at once (a wrong one is pointed out in its row, nothing is saved until it is
fixed), correct a grade, then mark attendance for the whole class at today's lesson; as the
homeroom teacher, accept a parent's excuse and download the parent-meeting report.

The school, the class and its timetable are set up through the API as the secretary would."""
from __future__ import annotations

import time
import uuid

import pytest

from tests.e2e.test_web_app import api, browser_factory, days_ago, every_day_timetable, school_today  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e

PASSWORD = "Nauczyciel-web-" + uuid.uuid4().hex[:6]
STUDENTS = [("Adam", "Adamski"), ("Basia", "Borowska"), ("Celina", "Czarnecka")]


def seed_class(system) -> dict:
    """Class 2C of physics teacher Halina (also its homeroom teacher), three students, physics
    as lesson 1 every day, grade categories. Halina herself never signs in here: her first
    sign-in is the browser's."""
    seeder = system.seeder()
    operator = seeder.sign_in(system.operator)
    school_id = seeder.school(operator, f"LO Web {uuid.uuid4().hex[:6]}", policy="statutory")
    secretary = seeder.person(operator, school_id, "school_admin", "Jolanta", "Biurowa", PASSWORD)
    office = seeder.sign_in(secretary)
    teacher = seeder.person(office, school_id, "teacher", "Halina", "Fizyczna", PASSWORD)
    class_id = seeder.school_class(office, school_id, "2C", "2026/2027", homeroom=teacher)
    physics = seeder.subject(office, "Fizyka", "fiz")
    seeder.assign(office, teacher, class_id, physics)
    students = [seeder.person(office, school_id, "student", first, last, PASSWORD, class_id=class_id) for first, last in STUDENTS]
    parent = seeder.person(office, school_id, "parent", "Barbara", "Borowska", PASSWORD, children=(students[1],))
    secretary_headers = system.headers(secretary)
    for name, weight in (("sprawdzian", 3), ("kartkówka", 2)):
        api(system, "POST", "/grade-categories", secretary_headers, json={"name": name, "weight": weight, "counts_to_average": True})
    api(system, "PUT", f"/classes/{class_id}/timetable", secretary_headers, json={
        "school_year": "2026/2027", "valid_from": days_ago(7), "entries": every_day_timetable([(physics, teacher.id)]),
    })
    return {"teacher": teacher, "students": students, "class_id": class_id, "physics": physics, "secretary": secretary_headers, "parent": system.headers(parent)}


@pytest.fixture(scope="module")
def school_class(system):
    return seed_class(system)


def test_a_teacher_signs_in_with_totp_enters_a_tests_grades_and_marks_attendance(system, school_class, browser_factory):
    from selenium.webdriver.support.ui import Select

    started = time.monotonic()
    browser = browser_factory(system.url, "teacher")
    teacher, (adam, basia, celina) = school_class["teacher"], school_class["students"]

    # Password, then the code from the authenticator app.
    browser.open("/")
    browser.heading("Logowanie")
    browser.fill("input[name=login]", teacher.login)
    browser.fill("input[name=password]", teacher.password)
    browser.click("Zaloguj się")
    browser.heading("Kod weryfikacyjny")
    browser.fill("input[name=code]", teacher.next_code())
    browser.shot("totp")
    browser.click("Potwierdź")

    # The grade sheet of her class and subject, straight away.
    browser.heading("Arkusz ocen: 2C, Fizyka")
    browser.text_present(".sheet-table", "Czarnecka Celina")
    assert [row.text.split("\n")[0] for row in browser.find_all(".sheet-table tbody th")] == ["Adamski Adam", "Borowska Basia", "Czarnecka Celina"]
    Select(browser.find("select[name=category_id]")).select_by_visible_text("sprawdzian (waga 3)")
    browser.fill("input[name='row[0].value']", "5")
    browser.fill("input[name='row[1].value']", "4+")
    browser.fill("input[name='row[2].value']", "7")  # no such grade
    browser.fill("input[name='row[2].comment']", "poprawa w piątek")
    browser.shot("sheet")
    browser.click("Zapisz oceny")

    # All or nothing: the wrong value is named in its own row, nothing is recorded.
    browser.wait(lambda d: browser.find("input[name='row[2].value']").get_attribute("aria-invalid") == "true", message="row 3 marked invalid")
    browser.text_present(".form-alert", "nic nie zostało zapisane")
    assert browser.find("input[name='row[0].value']").get_attribute("aria-invalid") is None
    assert api(system, "GET", f"/students/{adam.id}/grades", school_class["secretary"]).json()["subjects"] == []
    browser.shot("sheet-error")
    browser.fill("input[name='row[2].value']", "3")
    browser.click("Zapisz oceny")
    browser.text_present(".notice-success", "Zapisano oceny: 3.")
    browser.text_present(".sheet-table", "4+")
    browser.shot("sheet-saved")

    # A correction: Adam's 5 becomes 5+, through the grade's dialog.
    adam_row = browser.find(".sheet-table tbody tr:first-child")
    adam_row.find_element("css selector", ".grade").click()
    browser.visible("dialog[open] input[name=value]")
    browser.fill("dialog[open] input[name=value]", "5+")
    browser.shot("correction", phone=False)
    browser.find("dialog[open] button[type=submit]").click()
    browser.wait(lambda d: browser.find(".sheet-table tbody tr:first-child .grade").text.split("\n")[0] == "5+", message="the corrected grade")

    # Today's lesson: mark the whole class, Basia absent.
    browser.menu("Lekcje i frekwencja")
    browser.heading("Lekcje i frekwencja")
    browser.visible(".day-column.today .lesson-card")
    browser.shot("week")
    browser.find(".day-column.today .lesson-card").click()
    browser.heading("Frekwencja: 2C, Fizyka")
    browser.text_present(".marking-table", "Borowska Basia")
    browser.click("Wszyscy obecni")
    browser.find(".marking-table tbody tr:nth-child(2) label.status-absent").click()
    browser.fill("input[name=topic]", "Ruch jednostajny prostoliniowy")
    browser.shot("marking")
    browser.click("Zapisz frekwencję")
    browser.text_present("#attendance-saved", "Frekwencja zapisana.")
    browser.text_present(".notice-success", "Obecnych: 2, nieobecnych: 1.")
    browser.shot("marked")

    # Basia's mother excuses the absence (in her own app); the homeroom teacher accepts it and
    # prints the class's report for the parent meeting.
    lesson_id = browser.driver.current_url.rsplit("/", 1)[1]
    api(system, "POST", f"/students/{basia.id}/excuses", school_class["parent"], json={"lesson_ids": [lesson_id], "reason": "Wizyta u lekarza"})
    browser.menu("Wychowawstwo")
    browser.heading("Wychowawstwo: klasa 2C")
    browser.text_present(".excuse-card", "Wizyta u lekarza")
    browser.text_present(".excuse-card", "Borowska Basia")
    browser.shot("homeroom")
    browser.click("Przyjmij")
    browser.text_present("#pending-title", "(0)")
    browser.click("Pobierz raport klasy 2C (PDF)")
    report = browser.downloaded(".pdf")
    assert report.read_bytes().startswith(b"%PDF")
    assert [(r["status"]) for r in api(system, "GET", f"/students/{basia.id}/attendance", school_class["secretary"]).json()["items"]] == ["excused"]

    # What the school now has.
    marks = api(system, "GET", f"/lessons/{lesson_id}/attendance", school_class["secretary"]).json()
    assert {e["student_id"]: e["status"] for e in marks["entries"]} == {adam.id: "present", basia.id: "excused", celina.id: "present"}
    assert marks["lesson"]["topic"] == "Ruch jednostajny prostoliniowy" and marks["lesson"]["date"] == school_today().isoformat()
    recorded = {}
    for student in (adam, basia, celina):
        subjects = api(system, "GET", f"/students/{student.id}/grades", school_class["secretary"]).json()["subjects"]
        recorded[student.id] = [(g["value"], g["category"], g["comment"]) for g in subjects[0]["grades"]]
    assert recorded == {adam.id: [("5+", "sprawdzian", "")], basia.id: [("4+", "sprawdzian", "")], celina.id: [("3", "sprawdzian", "poprawa w piątek")]}
    assert browser.console_problems() == []
    assert time.monotonic() - started < 120
