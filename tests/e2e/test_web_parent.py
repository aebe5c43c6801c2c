"""A parent's day in the web app, through the UI only: sign in, meet the 402 screen (basic access
under the brochure policy), pay through the PayU simulator, see grades with the progress chart
and attendance, write to the homeroom teacher with an attachment, excuse an absence.

The school, its people, grades and an absence today are set up through the API as the school
would; everything the parent does happens in the browser."""
from __future__ import annotations

import time
import uuid

import pytest

from tests.e2e.test_web_app import api, browser_factory, days_ago, every_day_timetable, school_today  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e

PASSWORD = "Rodzic-web-" + uuid.uuid4().hex[:6]


def seed_family(system) -> dict:
    """A brochure-policy school; class 4A with homeroom teacher Tomasz (maths and Polish); Ola
    with her mother Ewa; grades over the last weeks; Ola absent from today's first lesson."""
    seeder = system.seeder()
    operator = seeder.sign_in(system.operator)
    school_id = seeder.school(operator, f"SP Web {uuid.uuid4().hex[:6]}", policy="brochure")
    secretary = seeder.person(operator, school_id, "school_admin", "Bożena", "Sekretarz", PASSWORD)
    office = seeder.sign_in(secretary)
    teacher = seeder.person(office, school_id, "teacher", "Tomasz", "Wychowawczy", PASSWORD)
    class_id = seeder.school_class(office, school_id, "4A", "2026/2027", homeroom=teacher)
    maths, polish = seeder.subject(office, "Matematyka", "mat"), seeder.subject(office, "Język polski", "pol")
    for subject in (maths, polish):
        seeder.assign(office, teacher, class_id, subject)
    student = seeder.person(office, school_id, "student", "Ola", "Kwiatkowska", PASSWORD, class_id=class_id)
    parent = seeder.person(office, school_id, "parent", "Ewa", "Kwiatkowska", PASSWORD, children=(student,))
    secretary_headers = system.headers(secretary)
    categories = {
        name: api(system, "POST", "/grade-categories", secretary_headers, json={"name": name, "weight": weight, "counts_to_average": True}).json()["id"]
        for name, weight in (("sprawdzian", 3), ("kartkówka", 2), ("odpowiedź", 1))
    }
    api(system, "PUT", f"/classes/{class_id}/timetable", secretary_headers, json={
        "school_year": "2026/2027", "valid_from": days_ago(7), "entries": every_day_timetable([(maths, teacher.id), (polish, teacher.id)]),
    })
    teacher_headers = system.headers(teacher)
    for subject, value, days, category in (
        (maths, "3", 40, "kartkówka"), (maths, "4", 25, "sprawdzian"), (maths, "5-", 12, "odpowiedź"), (maths, "5", 3, "sprawdzian"),
        (polish, "4+", 20, "odpowiedź"), (polish, "np", 10, None), (polish, "5", 5, "kartkówka"),
    ):
        body = {"student_id": student.id, "subject_id": subject, "value": value, "date": days_ago(days)}
        if category:
            body["category_id"] = categories[category]
        api(system, "POST", "/grades", teacher_headers, json=body)
    week = api(system, "GET", f"/classes/{class_id}/timetable", teacher_headers, params={"day": school_today().isoformat()}).json()
    today = sorted((l for l in week["lessons"] if l["date"] == school_today().isoformat()), key=lambda l: l["lesson_no"])
    api(system, "PUT", f"/lessons/{today[0]['id']}/attendance", teacher_headers, json={"entries": [{"student_id": student.id, "status": "absent"}]})
    api(system, "PUT", f"/lessons/{today[1]['id']}/attendance", teacher_headers, json={"entries": [{"student_id": student.id, "status": "present"}]})
    return {"parent": parent, "student": student, "teacher": teacher, "secretary": secretary_headers, "absent_lesson": today[0]["id"], "class_id": class_id}


@pytest.fixture(scope="module")
def family(system):
    return seed_family(system)


def test_a_parent_pays_for_extended_access_then_reads_grades_writes_and_excuses(system, family, browser_factory, tmp_path):
    started = time.monotonic()
    browser = browser_factory(system.url, "parent")
    parent = family["parent"]

    # Sign in.
    browser.open("/")
    browser.heading("Logowanie")
    browser.fill("input[name=login]", parent.login)
    browser.fill("input[name=password]", parent.password)
    browser.shot("login", phone=False)
    browser.click("Zaloguj się")

    # Basic access: grades answer 402, and the app says what extended access gives and how to get it.
    browser.heading("Wymagany dostęp rozszerzony")
    browser.text_present(".paywall", "Oceny ucznia Ola Kwiatkowska")
    browser.text_present(".paywall .price", "22,00")
    browser.shot("paywall")

    # Pay through PayU: the simulator's page, then back to the order's page in the app.
    browser.click("Zapłać online (PayU)")
    browser.wait(lambda d: "/pay/" in d.current_url, message="the PayU page")
    browser.text_present("h1", "PayU")
    browser.shot("payu", phone=False)
    browser.click("Zapłać")
    browser.heading("Płatność DZ")
    browser.visible("#access-active", timeout=90)  # the notification settles it; identity extends access
    browser.text_present("#access-active", "Ola Kwiatkowska")
    browser.shot("paid")

    # Grades by subject with categories, weights, averages, and the progress chart.
    browser.click("Zobacz oceny")
    browser.heading("Oceny — Ola Kwiatkowska")
    browser.text_present(".grades-table", "Matematyka")
    rows = {row.find_element("css selector", "th").text: row for row in browser.find_all(".grades-table tbody tr")}
    assert [chip.text.split("\n")[0] for chip in rows["Matematyka"].find_elements("css selector", ".grade")] == ["3", "4", "5-", "5"]
    from selenium.webdriver.support.ui import Select

    Select(browser.find("#chart-subject")).select_by_visible_text("Matematyka")
    browser.wait(lambda d: "Matematyka" in d.execute_script("return document.querySelector('.chart-svg title').textContent"), message="the maths chart")
    assert len(browser.find_all(".chart-svg circle")) == 4  # every numeric maths grade
    assert browser.find(".chart-svg path.chart-line").get_attribute("d").startswith("M")
    rows["Matematyka"].find_elements("css selector", ".grade")[1].click()
    browser.text_present(".grade-detail", "sprawdzian")
    browser.shot("grades")

    # Attendance: today's absence in the calendar and the percentage.
    browser.menu("Frekwencja")
    browser.heading("Frekwencja — Ola Kwiatkowska")
    browser.text_present("#attendance-percent", "50")
    browser.text_present(".day-detail", "nieobecny")
    browser.shot("attendance")

    # A message to the homeroom teacher with an attachment.
    note = tmp_path / "zaswiadczenie.txt"
    note.write_text("Zaświadczenie lekarskie: Ola była chora.", encoding="utf-8")
    browser.menu("Wiadomości")
    browser.heading("Wiadomości")
    browser.click("Nowa wiadomość")
    browser.heading("Nowa wiadomość")
    browser.fill("input[name=recipient-filter]", "Wychowawczy")
    browser.label("Tomasz Wychowawczy")
    browser.fill("input[name=subject]", "Nieobecność Oli")
    browser.fill("textarea[name=body]", "Dzień dobry, Ola dziś źle się czuła. Pozdrawiam, Ewa Kwiatkowska")
    browser.find("input[name=attachments]").send_keys(str(note))
    browser.shot("compose")
    browser.click("Wyślij")
    browser.heading("Wiadomości")
    browser.text_present(".message-list", "Nieobecność Oli")
    browser.text_present(".message-list", "przeczytało 0 z 1")
    browser.shot("sent", phone=False)

    # Excuse today's absence.
    browser.menu("Usprawiedliwienia")
    browser.heading("Usprawiedliwienia — Ola Kwiatkowska")
    browser.label("Lekcja 1 · Matematyka")
    browser.fill("textarea[name=reason]", "Choroba, zaświadczenie w wiadomości.")
    browser.click("Wyślij usprawiedliwienie")
    browser.text_present(".excuse-list", "czeka na decyzję")
    browser.shot("excuse")

    # What the parent did is what the school sees.
    excuses = api(system, "GET", "/excuses", family["secretary"]).json()["items"]
    assert [(e["lesson_ids"], e["status"]) for e in excuses] == [([family["absent_lesson"]], "pending")]
    teacher_inbox = api(system, "GET", "/messages", system.headers(family["teacher"]), params={"folder": "inbox"}).json()["items"]
    assert teacher_inbox[0]["subject"] == "Nieobecność Oli" and teacher_inbox[0]["attachments"][0]["filename"] == "zaswiadczenie.txt"
    assert browser.console_problems() == []
    assert time.monotonic() - started < 120
