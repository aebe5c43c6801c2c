"""The Attendance section of the API, end to end: timetable and lessons, marking, statistics,
excuses, events on the bus, the meeting report, and who may do what."""
from __future__ import annotations

import io
import time
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pika
import pytest
from pypdf import PdfReader

from dziennik.attendance.v1 import events_pb2
from dziennik.identity.v1 import identity_pb2
from tests.conftest import wait_for
from tests.system import api

pytestmark = pytest.mark.e2e

PASSWORD = "Frekwencja-" + uuid.uuid4().hex[:6]
TODAY = datetime.now(ZoneInfo("Europe/Warsaw")).date()
LAST_MONDAY = TODAY - timedelta(days=TODAY.weekday() + 7)  # a whole week in the past
RECENT_SCHOOL_DAY = next(d for d in (TODAY - timedelta(days=n) for n in range(1, 7)) if d.weekday() < 5)  # within the 7-day deadline


@pytest.fixture(scope="module")
def observer(system):
    connection = pika.BlockingConnection(pika.URLParameters(system.env["AMQP_URL"]))
    channel = connection.channel()
    queue = f"test.attendance-observer.{uuid.uuid4().hex[:6]}"
    channel.queue_declare(queue, exclusive=True)
    channel.queue_bind(queue, "dziennik.events", routing_key="attendance.#")
    yield channel, queue
    connection.close()


def drain(observer) -> list[tuple[str, bytes]]:
    channel, queue = observer
    seen = []
    while True:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            return seen
        seen.append((properties.type, body))


@pytest.fixture(scope="module")
def school(system, observer):
    """Class 3B: physics teacher Halina is its homeroom teacher, maths teacher Marek; two students
    with a parent each; a timetable of maths lessons 1–2 and physics lesson 3 every weekday."""
    seeder = system.seeder()
    operator = seeder.sign_in(system.operator)
    school_id = seeder.school(operator, f"Gimnazjum {uuid.uuid4().hex[:6]}", policy="statutory")
    secretary = seeder.person(operator, school_id, "school_admin", "Sabina", "Sekretarska", PASSWORD)
    office = seeder.sign_in(secretary)
    homeroom = seeder.person(office, school_id, "teacher", "Halina", "Fizyczna", PASSWORD)
    maths_teacher = seeder.person(office, school_id, "teacher", "Marek", "Liczyński", PASSWORD)
    stand_in = seeder.person(office, school_id, "teacher", "Zenon", "Zastępczy", PASSWORD)
    class_id = seeder.school_class(office, school_id, "3B", "2026/2027", homeroom=homeroom)
    maths, physics = seeder.subject(office, "Matematyka"), seeder.subject(office, "Fizyka")
    seeder.assign(office, maths_teacher, class_id, maths)
    seeder.assign(office, homeroom, class_id, physics)
    students, parents = [], []
    for first in ("Kasia", "Tomek"):
        student = seeder.person(office, school_id, "student", first, "Obecna" if first == "Kasia" else "Nieobecny", PASSWORD, class_id=class_id)
        parents.append(seeder.person(office, school_id, "parent", f"Mama{first}", "Rodzinna", PASSWORD, children=(student,)))
        students.append(student)
    admin = system.headers(secretary)
    timetable = {
        "school_year": "2026/2027", "valid_from": (LAST_MONDAY - timedelta(days=21)).isoformat(),
        "entries": [e for day in range(1, 6) for e in (
            {"weekday": day, "lesson_no": 1, "subject_id": maths, "teacher_id": maths_teacher.id, "room": "12"},
            {"weekday": day, "lesson_no": 2, "subject_id": maths, "teacher_id": maths_teacher.id, "room": "12"},
            {"weekday": day, "lesson_no": 3, "subject_id": physics, "teacher_id": homeroom.id, "room": "lab"},
        )],
    }
    answer = api(system, "PUT", f"/classes/{class_id}/timetable", admin, json=timetable)
    assert answer.status_code == 200, answer.text
    return {
        "class_id": class_id, "maths": maths, "physics": physics, "students": students, "admin": admin,
        "homeroom": system.headers(homeroom), "homeroom_id": homeroom.id, "maths_teacher": system.headers(maths_teacher), "maths_teacher_id": maths_teacher.id,
        "stand_in": system.headers(stand_in), "stand_in_id": stand_in.id, "parents": [system.headers(p) for p in parents],
    }


def week(system, school, who: dict, path: str, monday: date = LAST_MONDAY) -> list[dict]:
    answer = api(system, "GET", path, who, params={"day": monday.isoformat()})
    assert answer.status_code == 200, answer.text
    return answer.json()["lessons"]


def test_the_timetable_gives_the_weeks_lessons_for_the_class_the_teacher_and_the_student(system, school):
    lessons = week(system, school, school["admin"], f"/classes/{school['class_id']}/timetable")
    assert len(lessons) == 15
    first = lessons[0]
    assert (first["date"], first["lesson_no"], first["starts"], first["ends"], first["room"]) == (LAST_MONDAY.isoformat(), 1, "08:00", "08:45", "12")
    again = week(system, school, school["admin"], f"/classes/{school['class_id']}/timetable")
    assert [l["id"] for l in again] == [l["id"] for l in lessons]  # generated once
    teacher_lessons = week(system, school, school["maths_teacher"], f"/teachers/{school['maths_teacher_id']}/timetable")
    assert len(teacher_lessons) == 10 and {l["subject_id"] for l in teacher_lessons} == {school["maths"]}
    student = week(system, school, school["parents"][0], f"/students/{school['students'][0].id}/timetable")
    assert len(student) == 15
    assert api(system, "GET", f"/students/{school['students'][1].id}/timetable", school["parents"][0]).status_code == 404


def test_marking_a_class_remarking_and_who_may_mark(system, school, observer):
    kasia, tomek = school["students"]
    lessons = week(system, school, school["admin"], f"/classes/{school['class_id']}/timetable")
    monday = [l for l in lessons if l["date"] == LAST_MONDAY.isoformat()]
    maths_1, maths_2, physics_3 = monday
    marked = api(system, "PUT", f"/lessons/{maths_1['id']}/attendance", school["maths_teacher"],
                 json={"entries": [{"student_id": kasia.id, "status": "present"}, {"student_id": tomek.id, "status": "absent"}]})
    assert marked.status_code == 200, marked.text
    assert api(system, "PUT", f"/lessons/{maths_2['id']}/attendance", school["maths_teacher"],
               json={"entries": [{"student_id": kasia.id, "status": "late"}, {"student_id": tomek.id, "status": "absent"}]}).status_code == 200
    # The maths teacher may not mark the homeroom teacher's physics lesson; the homeroom teacher may mark anything in 3B.
    assert api(system, "PUT", f"/lessons/{physics_3['id']}/attendance", school["maths_teacher"], json={"entries": [{"student_id": kasia.id, "status": "present"}]}).status_code == 403
    assert api(system, "PUT", f"/lessons/{physics_3['id']}/attendance", school["homeroom"],
               json={"entries": [{"student_id": kasia.id, "status": "released"}, {"student_id": tomek.id, "status": "present"}]}).status_code == 200
    # Re-marking changes the record (Tomek came late to lesson 1 after all), never duplicates it.
    assert api(system, "PUT", f"/lessons/{maths_1['id']}/attendance", school["homeroom"], json={"entries": [{"student_id": tomek.id, "status": "late"}]}).status_code == 200
    entries = api(system, "GET", f"/lessons/{maths_1['id']}/attendance", school["admin"]).json()["entries"]
    assert sorted((e["student_id"], e["status"]) for e in entries) == sorted([(kasia.id, "present"), (tomek.id, "late")])
    # Bad input changes nothing.
    stranger = api(system, "PUT", f"/lessons/{maths_1['id']}/attendance", school["maths_teacher"], json={"entries": [{"student_id": str(uuid.uuid4()), "status": "present"}, {"student_id": kasia.id, "status": "absent"}]})
    assert stranger.status_code == 400 and "entries[0].student_id" in stranger.json()["errors"]
    unknown = api(system, "PUT", f"/lessons/{maths_1['id']}/attendance", school["maths_teacher"], json={"entries": [{"student_id": kasia.id, "status": "wagary"}]})
    assert unknown.status_code == 400 and "entries[0].status" in unknown.json()["errors"]
    assert api(system, "PUT", f"/lessons/{maths_1['id']}/attendance", school["parents"][0], json={"entries": [{"student_id": kasia.id, "status": "present"}]}).status_code == 403

    # One AbsenceRecorded per marking that made Tomek absent, each naming all his absences that day.
    seen: list[tuple[str, bytes]] = []

    def absences():
        seen.extend(drain(observer))
        return [a for a in (events_pb2.AbsenceRecorded.FromString(b) for k, b in seen if k == "attendance.absence_recorded.v1") if a.student.student_id == tomek.id]

    wait_for(lambda: len(absences()) >= 2, timeout=15, message="AbsenceRecorded events")
    latest = absences()[-1]
    assert latest.date == LAST_MONDAY.isoformat() and latest.student.student_first_name == "Tomek"
    assert [(l.lesson_no, l.subject_name) for l in latest.lessons] == [(1, "Matematyka"), (2, "Matematyka")]


def test_the_percentage_counts_late_as_present_and_leaves_released_out(system, school):
    kasia = school["students"][0]
    summary = api(system, "GET", f"/students/{kasia.id}/attendance/summary", school["parents"][0],
                  params={"from": LAST_MONDAY.isoformat(), "to": LAST_MONDAY.isoformat()}).json()
    # present + late = 2 attended, 0 missed, released left out → 100 %
    assert summary["percent_present"] == 100.0
    assert summary["counts"] == {"present": 1, "late": 1, "released": 1}
    assert summary["by_subject"][school["maths"]]["percent_present"] == 100.0
    assert summary["by_month"][LAST_MONDAY.strftime("%Y-%m")]["counts"]["late"] == 1
    records = api(system, "GET", f"/students/{kasia.id}/attendance", school["parents"][0], params={"from": LAST_MONDAY.isoformat(), "to": LAST_MONDAY.isoformat()}).json()["items"]
    assert [(r["lesson_no"], r["status"]) for r in records] == [(1, "present"), (2, "late"), (3, "released")]
    klass = api(system, "GET", f"/classes/{school['class_id']}/attendance/summary", school["homeroom"], params={"from": LAST_MONDAY.isoformat(), "to": LAST_MONDAY.isoformat()}).json()
    assert set(klass["by_student"]) == {s.id for s in school["students"]}
    assert api(system, "GET", f"/classes/{school['class_id']}/attendance/summary", school["parents"][0]).status_code == 404


def test_a_parent_excuses_and_the_homeroom_teacher_decides(system, school, observer):
    kasia, tomek = school["students"]
    tuesday = RECENT_SCHOOL_DAY.isoformat()
    lessons = [l for l in week(system, school, school["admin"], f"/classes/{school['class_id']}/timetable", rules_monday(RECENT_SCHOOL_DAY)) if l["date"] == tuesday]
    for lesson in lessons[:2]:
        api(system, "PUT", f"/lessons/{lesson['id']}/attendance", school["maths_teacher"], json={"entries": [{"student_id": tomek.id, "status": "absent"}]})
    tomeks_mum, kasias_mum = school["parents"][1], school["parents"][0]

    assert api(system, "POST", f"/students/{tomek.id}/excuses", kasias_mum, json={"days": [tuesday], "reason": "Choroba"}).status_code == 404
    nothing = api(system, "POST", f"/students/{kasia.id}/excuses", kasias_mum, json={"days": [tuesday], "reason": "Choroba"})
    assert nothing.status_code == 400  # Kasia was not absent that day
    excuse = api(system, "POST", f"/students/{tomek.id}/excuses", tomeks_mum, json={"days": [tuesday], "reason": "Wizyta u lekarza"})
    assert excuse.status_code == 201, excuse.text
    excuse = excuse.json()
    assert excuse["status"] == "pending" and sorted(excuse["lesson_ids"]) == sorted(l["id"] for l in lessons[:2])
    assert [e["id"] for e in api(system, "GET", "/excuses", tomeks_mum).json()["items"]] == [excuse["id"]]
    assert excuse["id"] in [e["id"] for e in api(system, "GET", "/excuses", school["homeroom"], params={"status": "pending"}).json()["items"]]

    not_homeroom = api(system, "POST", f"/excuses/{excuse['id']}/decision", school["maths_teacher"], json={"decision": "accepted"})
    assert not_homeroom.status_code == 403
    accepted = api(system, "POST", f"/excuses/{excuse['id']}/decision", school["homeroom"], json={"decision": "accepted"})
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    again = api(system, "POST", f"/excuses/{excuse['id']}/decision", school["homeroom"], json={"decision": "rejected"})
    assert again.status_code == 409
    records = api(system, "GET", f"/students/{tomek.id}/attendance", tomeks_mum, params={"from": tuesday, "to": tuesday}).json()["items"]
    assert [r["status"] for r in records] == ["excused", "excused"]

    # Too late: the school's deadline is 7 days by default.
    old_day = (LAST_MONDAY - timedelta(days=14))
    old_lessons = [l for l in week(system, school, school["admin"], f"/classes/{school['class_id']}/timetable", rules_monday(old_day)) if l["date"] == old_day.isoformat()]
    api(system, "PUT", f"/lessons/{old_lessons[0]['id']}/attendance", school["maths_teacher"], json={"entries": [{"student_id": tomek.id, "status": "absent"}]})
    late = api(system, "POST", f"/students/{tomek.id}/excuses", tomeks_mum, json={"lesson_ids": [old_lessons[0]["id"]], "reason": "Choroba"})
    assert late.status_code == 400 and "lesson_ids" in late.json()["errors"]

    seen: list[tuple[str, bytes]] = []

    def kinds():
        seen.extend(drain(observer))
        return {k for k, b in seen if k.startswith("attendance.excuse_")}

    wait_for(lambda: kinds() >= {"attendance.excuse_submitted.v1", "attendance.excuse_decided.v1"}, timeout=15, message="excuse events")
    decided = [events_pb2.ExcuseDecided.FromString(b) for k, b in seen if k == "attendance.excuse_decided.v1"]
    assert any(d.excuse_id == excuse["id"] and d.decision == "accepted" for d in decided)


def rules_monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def test_substitutions_cancellations_and_lessons_opened_by_hand(system, school):
    wednesday = (LAST_MONDAY + timedelta(days=2)).isoformat()
    lessons = [l for l in week(system, school, school["admin"], f"/classes/{school['class_id']}/timetable") if l["date"] == wednesday]
    maths_1, _, physics_3 = lessons
    assert api(system, "PATCH", f"/lessons/{maths_1['id']}", school["maths_teacher"], json={"substitute_teacher_id": school["stand_in_id"]}).status_code == 403
    changed = api(system, "PATCH", f"/lessons/{maths_1['id']}", school["admin"], json={"substitute_teacher_id": school["stand_in_id"]})
    assert changed.status_code == 200 and changed.json()["substitute_teacher_id"] == school["stand_in_id"]
    assert any(l["id"] == maths_1["id"] for l in week(system, school, school["stand_in"], f"/teachers/{school['stand_in_id']}/timetable"))
    assert api(system, "PUT", f"/lessons/{maths_1['id']}/attendance", school["stand_in"], json={"entries": [{"student_id": school["students"][0].id, "status": "present"}]}).status_code == 200
    assert api(system, "PATCH", f"/lessons/{physics_3['id']}", school["admin"], json={"cancelled": True}).json()["cancelled"] is True
    assert api(system, "PUT", f"/lessons/{physics_3['id']}/attendance", school["homeroom"], json={"entries": [{"student_id": school["students"][0].id, "status": "present"}]}).status_code == 409
    topic = api(system, "PATCH", f"/lessons/{maths_1['id']}", school["stand_in"], json={"topic": "Ułamki zwykłe"})
    assert topic.status_code == 200 and topic.json()["topic"] == "Ułamki zwykłe"

    extra = api(system, "POST", "/lessons", school["maths_teacher"], json={"class_id": school["class_id"], "subject_id": school["maths"], "date": wednesday, "lesson_no": 6, "topic": "Zajęcia wyrównawcze"})
    assert extra.status_code == 201, extra.text
    assert extra.json()["lesson_no"] == 6 and extra.json()["teacher_id"] == school["maths_teacher_id"]
    clash = api(system, "POST", "/lessons", school["maths_teacher"], json={"class_id": school["class_id"], "subject_id": school["maths"], "date": wednesday, "lesson_no": 3})
    assert clash.status_code == 409
    not_theirs = api(system, "POST", "/lessons", school["maths_teacher"], json={"class_id": school["class_id"], "subject_id": school["physics"], "date": wednesday, "lesson_no": 7})
    assert not_theirs.status_code == 403


def test_settings_and_the_schools_own_types(system, school):
    settings = api(system, "GET", "/attendance-settings", school["admin"]).json()
    assert settings["excuse_deadline_days"] == 7 and settings["lesson_hours"][0] == "08:00-08:45"
    code = "w" + uuid.uuid4().hex[:4]
    created = api(system, "POST", "/attendance-types", school["admin"], json={"code": code, "name": "Wycieczka klasowa", "counts_as": "school_absence"})
    assert created.status_code == 201
    assert code in [t["code"] for t in api(system, "GET", "/attendance-types", school["homeroom"]).json()]
    bad = api(system, "PUT", "/attendance-settings", school["admin"], json={**settings, "excuse_deadline_days": 90})
    assert bad.status_code == 400
    assert api(system, "PUT", "/attendance-settings", school["homeroom"], json=settings).status_code == 403


def test_the_homeroom_teacher_prints_the_meeting_report(system, school):
    kasia = school["students"][0]
    grade = api(system, "POST", "/grades", school["maths_teacher"], json={"student_id": kasia.id, "subject_id": school["maths"], "value": "5"})
    assert grade.status_code == 201
    pdf = api(system, "GET", f"/students/{kasia.id}/meeting-report.pdf", school["homeroom"])
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Kasia Obecna" in text and "Matematyka" in text and "5,00" in text
    klass = api(system, "GET", f"/classes/{school['class_id']}/meeting-report.pdf", school["homeroom"])
    assert klass.status_code == 200
    class_text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(klass.content)).pages)
    assert "Kasia Obecna" in class_text and "Tomek Nieobecny" in class_text
    assert api(system, "GET", f"/students/{kasia.id}/meeting-report.pdf", school["maths_teacher"]).status_code == 403
    assert api(system, "GET", f"/students/{kasia.id}/meeting-report.pdf", school["parents"][0]).status_code == 403


def test_attendance_needs_extended_access_under_the_brochure_policy(system, school):
    school_id = api(system, "GET", "/me", school["admin"]).json()["school_id"]
    seeder = system.seeder()
    operator = seeder.sign_in(system.operator)
    seeder.identity.UpdateSchool(identity_pb2.UpdateSchoolRequest(school_id=school_id, access_policy=identity_pb2.ACCESS_POLICY_BROCHURE), metadata=operator)
    kasia = school["students"][0]
    # Each gateway worker keeps identity's earlier "yes" for GATEWAY_ACCESS_CACHE_SECONDS (10): the
    # school's new policy counts once that has passed in every worker, never later.
    time.sleep(10.5)
    try:
        for path in (f"/students/{kasia.id}/attendance", f"/students/{kasia.id}/attendance/summary"):
            answer = api(system, "GET", path, school["parents"][0])
            assert answer.status_code == 402 and answer.json()["code"] == "extended_access_required"
        assert api(system, "GET", f"/students/{kasia.id}/timetable", school["parents"][0]).status_code == 200  # basic access
    finally:
        seeder.identity.UpdateSchool(identity_pb2.UpdateSchoolRequest(school_id=school_id, access_policy=identity_pb2.ACCESS_POLICY_STATUTORY), metadata=operator)
