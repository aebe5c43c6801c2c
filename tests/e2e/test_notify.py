"""SMS alerts end to end: settings, opting in, one absence alert per phone and day listing
siblings and lessons, quiet hours, and never a second alert for a child reported that day."""
from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.conftest import wait_for
from tests.system import api

pytestmark = pytest.mark.e2e

PASSWORD = "Powiadomienia-" + uuid.uuid4().hex[:6]
TODAY = datetime.now(ZoneInfo("Europe/Warsaw")).date()
LAST_MONDAY = TODAY - timedelta(days=TODAY.weekday() + 7)


def sms_to(system, phone: str) -> list[dict]:
    return [json.loads(line) for line in system.sms_lines() if json.loads(line)["to"] == phone]


@pytest.fixture(scope="module")
def family(system):
    """Two siblings in 6A with one mother (one phone) who bought SMS alerts for both; a classmate
    whose father did not; a teacher of maths who is homeroom teacher."""
    seeder = system.seeder()
    operator = seeder.sign_in(system.operator)
    school_id = seeder.school(operator, f"Szkoła SMS {uuid.uuid4().hex[:6]}", policy="statutory")
    secretary = seeder.person(operator, school_id, "school_admin", "Sonia", "Sekretarz", PASSWORD)
    office = seeder.sign_in(secretary)
    teacher = seeder.person(office, school_id, "teacher", "Teresa", "Matematyczka", PASSWORD)
    class_id = seeder.school_class(office, school_id, "6A", "2026/2027", homeroom=teacher)
    maths = seeder.subject(office, "Matematyka")
    seeder.assign(office, teacher, class_id, maths)
    kids = [seeder.person(office, school_id, "student", first, "Żak", PASSWORD, class_id=class_id) for first in ("Zosia", "Staś")]
    phone = f"+48600{uuid.uuid4().int % 1_000_000:06d}"
    mother = seeder.person(office, school_id, "parent", "Maria", "Żak", PASSWORD, phone=phone, children=tuple(kids))
    system.buy_sms_alerts(mother, secretary, *kids)
    classmate = seeder.person(office, school_id, "student", "Jan", "Nowak", PASSWORD, class_id=class_id)
    unpaid_phone = f"+48601{uuid.uuid4().int % 1_000_000:06d}"
    father = seeder.person(office, school_id, "parent", "Piotr", "Nowak", PASSWORD, phone=unpaid_phone, children=(classmate,))
    admin = system.headers(secretary)
    timetable = {"school_year": "2026/2027", "valid_from": (LAST_MONDAY - timedelta(days=7)).isoformat(),
                 "entries": [{"weekday": 1, "lesson_no": n, "subject_id": maths, "teacher_id": teacher.id} for n in (1, 2, 3)]}
    assert api(system, "PUT", f"/classes/{class_id}/timetable", admin, json=timetable).status_code == 200
    lessons = api(system, "GET", f"/classes/{class_id}/timetable", admin, params={"day": LAST_MONDAY.isoformat()}).json()["lessons"]
    return {
        "kids": kids, "phone": phone, "mother": system.headers(mother), "teacher": system.headers(teacher), "lessons": lessons, "maths": maths, "office": admin,
        "class_id": class_id, "classmate": classmate, "father": system.headers(father), "unpaid_phone": unpaid_phone,
    }


def settings(system, who: dict, **changes) -> requests.Response:
    body = {"sms_enabled": True, "phone": "", "events": ["grade_recorded", "absence_recorded"], "quiet_hours": None, **changes}
    return api(system, "PUT", "/me/notification-settings", who, json=body)


def test_settings_start_off_and_bad_ones_are_refused(system, family):
    assert api(system, "GET", "/me/notification-settings", family["mother"]).json() == {"sms_enabled": False, "phone": "", "events": [], "quiet_hours": None}
    assert settings(system, family["mother"], phone="12345").status_code == 400
    assert settings(system, family["mother"], events=["horoscope"]).status_code == 400
    assert settings(system, family["mother"], quiet_hours={"from": "25:00", "to": "07:00"}).status_code == 400
    assert api(system, "GET", "/me/notification-settings", family["mother"]).json()["sms_enabled"] is False  # nothing changed


def test_no_sms_without_opting_in(system, family):
    zosia = family["kids"][0]
    assert api(system, "POST", "/grades", family["teacher"], json={"student_id": zosia.id, "subject_id": family["maths"], "value": "5"}).status_code == 201
    time.sleep(3)
    assert sms_to(system, family["phone"]) == []


def test_one_absence_alert_per_phone_and_day_lists_both_children(system, family):
    assert settings(system, family["mother"]).status_code == 200
    zosia, stas = family["kids"]
    first, second, third = family["lessons"][:3]
    mark = lambda lesson, student: api(system, "PUT", f"/lessons/{lesson['id']}/attendance", family["teacher"], json={"entries": [{"student_id": student.id, "status": "absent"}]})  # noqa: E731
    assert mark(first, zosia).status_code == 200
    assert mark(second, zosia).status_code == 200
    assert mark(third, stas).status_code == 200
    wait_for(lambda: sms_to(system, family["phone"]), timeout=30, interval=0.5, message="the absence alert")
    time.sleep(4)  # a second alert would be due by now
    [alert] = sms_to(system, family["phone"])
    day = f"{LAST_MONDAY.day:02d}.{LAST_MONDAY.month:02d}"
    assert alert["message"] == f"Dziennik: nieobecnosc {day}: Stas Zak - lekcja 3 (Matematyka); Zosia Zak - lekcje 1 (Matematyka), 2 (Matematyka)."
    assert alert["parts"] == 1
    # Zosia was reported today already: marking her absent again sends nothing new.
    assert mark(third, zosia).status_code == 200
    time.sleep(5)
    assert len(sms_to(system, family["phone"])) == 1
    # The school's sent log shows it, with its parts (what the provider bills).
    log = api(system, "GET", "/notify/sms-log", family["office"]).json()
    assert [(i["kind"], i["phone"], i["parts"], i["status"]) for i in log["items"]] == [("absence_recorded", family["phone"], 1, "sent")]
    assert log["sent_parts"] == 1 and log["failed"] == 0
    assert api(system, "GET", "/notify/sms-log", family["mother"]).status_code == 403


def test_quiet_hours_hold_alerts(system, family):
    now = datetime.now(ZoneInfo("Europe/Warsaw"))
    window = {"from": (now - timedelta(hours=1)).strftime("%H:%M"), "to": (now + timedelta(hours=1)).strftime("%H:%M")}
    assert settings(system, family["mother"], quiet_hours=window).status_code == 200
    before = len(sms_to(system, family["phone"]))
    stas = family["kids"][1]
    assert api(system, "POST", "/grades", family["teacher"], json={"student_id": stas.id, "subject_id": family["maths"], "value": "6"}).status_code == 201
    time.sleep(4)
    assert len(sms_to(system, family["phone"])) == before  # waiting for the end of the quiet hours
    assert api(system, "GET", "/me/notification-settings", family["mother"]).json()["quiet_hours"] == window


def test_delivery_report_callbacks_are_authenticated(system):
    base = f"{system.url}/api/v1/notify/sms/delivery-report"
    assert requests.post(f"{base}/smsapi", params={"key": "wrong", "MsgId": "1", "status_name": "DELIVERED"}, timeout=10).status_code == 401
    good = requests.get(f"{base}/smsapi", params={"key": "dev-sms-callback-secret", "MsgId": "unknown", "status_name": "DELIVERED"}, timeout=10)
    assert good.status_code == 200 and good.json() == {"matched": False}
    forged = requests.post(f"{base}/twilio", data={"MessageSid": "SM1", "MessageStatus": "delivered"}, headers={"X-Twilio-Signature": "Zm9yZ2Vk"}, timeout=10)
    assert forged.status_code == 401
    assert requests.post(f"{base}/pigeon", data={}, timeout=10).status_code == 404


def test_a_parent_is_reminded_once_before_extended_access_ends(system, family):
    assert settings(system, family["mother"], events=["access_expiring"]).status_code == 200
    zosia = family["kids"][0]
    order = api(system, "POST", "/billing/orders", family["mother"], json={"product": "extended_access", "student_id": zosia.id, "channel": "cash"}).json()
    assert api(system, "POST", f"/billing/orders/{order['id']}/cash-payment", family["office"], json={"amount": {"amount": 2200, "currency": "PLN"}}).status_code == 200

    def reminders():
        return [m for m in sms_to(system, family["phone"]) if "konczy sie" in m["message"]]

    wait_for(reminders, timeout=30, interval=0.5, message="the reminder")  # billing -> identity -> notify
    time.sleep(3)
    [reminder] = reminders()
    assert reminder["message"].startswith("Dziennik: dostep rozszerzony dla Zosia Zak konczy sie ")


def test_a_class_announcement_reaches_the_mother_once_naming_both_children_and_not_the_unpaid_father(system, family):
    assert settings(system, family["mother"], events=["announcement_published"]).status_code == 200
    assert settings(system, family["father"], events=["announcement_published", "grade_recorded"]).status_code == 200
    posted = api(system, "POST", "/announcements", family["office"], json={"title": "Wycieczka do Torunia", "body": "W piątek o 8:00 spod szkoły.", "class_ids": [family["class_id"]]})
    assert posted.status_code == 201, posted.text

    def announcements():
        return [m for m in sms_to(system, family["phone"]) if "ogloszenie" in m["message"]]

    wait_for(announcements, timeout=30, interval=0.3, message="the announcement SMS")
    assert api(system, "POST", "/grades", family["teacher"], json={"student_id": family["classmate"].id, "subject_id": family["maths"], "value": "3"}).status_code == 201
    time.sleep(3)
    [sms] = announcements()
    assert sms["message"] == 'Dziennik: ogloszenie szkoly (Stas, Zosia): "Wycieczka do Torunia". Szczegoly w dzienniku.'
    assert sms_to(system, family["unpaid_phone"]) == []  # turned on, but the school's policy needs the add-on
    me = api(system, "GET", "/me", family["father"]).json()
    assert me["children"][0]["sms_alerts"] == {"allowed": False, "add_on_valid_until": None}


def test_a_student_who_opts_in_gets_their_own_alert_in_polish_when_the_school_chooses_it(system, family):
    zosia = family["kids"][0]
    own_phone = f"+48602{uuid.uuid4().int % 1_000_000:06d}"
    body = {"sms_enabled": True, "phone": own_phone, "events": ["grade_recorded"], "quiet_hours": None}
    assert api(system, "PUT", "/me/notification-settings", system.headers(zosia), json=body).status_code == 200
    assert api(system, "PUT", "/notify/school-settings", family["mother"], json={"polish_characters": True}).status_code == 403
    assert api(system, "PUT", "/notify/school-settings", family["office"], json={"polish_characters": "yes"}).status_code == 400
    assert api(system, "GET", "/notify/school-settings", family["office"]).json() == {"polish_characters": False}
    chosen = api(system, "PUT", "/notify/school-settings", family["office"], json={"polish_characters": True})
    assert chosen.status_code == 200 and chosen.json() == {"polish_characters": True}
    try:
        assert api(system, "POST", "/grades", family["teacher"], json={"student_id": zosia.id, "subject_id": family["maths"], "value": "5"}).status_code == 201
        wait_for(lambda: sms_to(system, own_phone), timeout=30, interval=0.3, message="the student's own SMS")
        time.sleep(2)
        [sms] = sms_to(system, own_phone)
        assert sms["message"] == "Dziennik: Zosia Żak otrzymał(a) ocenę 5 z przedmiotu Matematyka." and sms["parts"] == 1
    finally:
        api(system, "PUT", "/notify/school-settings", family["office"], json={"polish_characters": False})
