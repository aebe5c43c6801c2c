"""One grade travels from a teacher to a parent's phone, with every process running on
PostgreSQL and RabbitMQ, driven through the public API."""
from __future__ import annotations

import json
import time
import uuid

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def school(system):
    """A statutory-policy school (grades free) with a secretary, a teacher of maths in 1A, a
    student of 1A and her parent with a phone, set up over gRPC."""
    seeder = system.seeder()
    operator = seeder.sign_in(system.operator)
    school_id = seeder.school(operator, f"Szkoła testowa {uuid.uuid4().hex[:6]}", policy="statutory")
    password = "Test-haslo-" + uuid.uuid4().hex[:8]
    secretary = seeder.person(operator, school_id, "school_admin", "Barbara", "Sekretarska", password)
    office = seeder.sign_in(secretary)
    teacher = seeder.person(office, school_id, "teacher", "Tomasz", "Nauczycielski", password)
    class_id = seeder.school_class(office, school_id, "1A", "2026/2027")
    student = seeder.person(office, school_id, "student", "Zofia", "Żółkiewska", password, class_id=class_id)
    parent = seeder.person(office, school_id, "parent", "Anna", "Żółkiewska", password, phone="+48601234567", children=(student,))
    subject_id = seeder.subject(office, "Matematyka")
    seeder.assign(office, teacher, class_id, subject_id)
    system.buy_sms_alerts(parent, secretary, student)  # SMS alerts are an add-on the parent pays for
    turned_on = requests.put(
        f"{system.url}/api/v1/me/notification-settings",
        json={"sms_enabled": True, "phone": "", "events": ["grade_recorded", "absence_recorded"], "quiet_hours": None},
        headers=system.headers(parent),
        timeout=10,
    )
    assert turned_on.status_code == 200, turned_on.text
    return {"teacher": teacher, "student": student, "parent": parent, "subject_id": subject_id, "class_id": class_id}


def test_a_grade_recorded_by_a_teacher_reaches_the_parent_once_by_sms(system, school):
    teacher = system.headers(school["teacher"])
    request_id = f"e2e-{uuid.uuid4().hex}"
    recorded = requests.post(
        f"{system.url}/api/v1/grades",
        json={"student_id": school["student"].id, "subject_id": school["subject_id"], "value": "4+", "comment": "Sprawdzian"},
        headers={**teacher, "X-Request-Id": request_id},
        timeout=10,
    )
    assert recorded.status_code == 201, recorded.text
    assert recorded.headers["X-Request-Id"] == request_id
    grade = recorded.json()
    assert grade["value"] == "4+" and grade["student_id"] == school["student"].id

    # The parent reads it back through the gateway.
    parent = system.headers(school["parent"])
    me = requests.get(f"{system.url}/api/v1/me", headers=parent, timeout=10).json()
    assert [(c["student_id"], c["class_name"]) for c in me["children"]] == [(school["student"].id, "1A")]
    grades = requests.get(f"{system.url}/api/v1/students/{school['student'].id}/grades", headers=parent, timeout=10)
    assert grades.status_code == 200, grades.text
    [subject] = grades.json()["subjects"]
    assert subject["subject_name"] == "Matematyka"
    assert [(g["id"], g["value"], g["comment"]) for g in subject["grades"]] == [(grade["id"], "4+", "Sprawdzian")]

    # Exactly one SMS to the parent's phone, naming the child, in one GSM-7 part.
    def sms_for_parent():
        return [json.loads(line) for line in system.sms_lines() if json.loads(line)["to"] == "+48601234567"]

    wait_for(sms_for_parent, timeout=30, interval=0.2, message="the SMS in the fake provider's file")
    time.sleep(2)  # a duplicate would arrive about now: redeliveries and relay retries are sub-second
    [sms] = sms_for_parent()
    assert sms["message"] == "Dziennik: Zofia Zolkiewska otrzymal(a) ocene 4+ z przedmiotu Matematyka."
    assert sms["parts"] == 1

    # The request id followed the grade from the gateway through gRPC and the event to notify.
    logs = system.logs()
    assert any(request_id in line and "notify-consumer" in line for line in logs.splitlines()), "correlation id did not reach notify"


def test_every_process_kind_reports_metrics(system, school):
    teacher = system.headers(school["teacher"])
    requests.get(f"{system.url}/api/v1/students/{school['student'].id}/grades", headers=teacher, timeout=10)
    gateway = requests.get(f"{system.url}/metrics", timeout=10).text
    assert 'http_requests_total{endpoint="/api/v1/students/<student_id>/grades",method="GET",status="200"}' in gateway
    gradebook = requests.get(system.metrics_url("gradebook"), timeout=10).text
    assert 'grpc_server_handled_total{grpc_code="OK",grpc_method="GetStudentGradesPage",grpc_service="dziennik.gradebook.v1.GradebookService"}' in gradebook
    relay = requests.get(system.metrics_url("gradebook-relay"), timeout=10).text
    assert 'events_published_total{routing_key="gradebook.grade_recorded.v1"}' in relay
    consumer = requests.get(system.metrics_url("notify-consumer"), timeout=10).text
    assert 'events_consumed_total{consumer="notify.sms_alerts",outcome="handled",routing_key="gradebook.grade_recorded.v1"}' in consumer
    # Every kind of process froze what it loaded at start (platform_kit/heap.py).
    for text in (gateway, gradebook, relay, consumer):
        [frozen] = [s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == "python_gc_frozen_objects"]
        assert frozen > 10_000


def test_identity_publishes_the_keys_that_verify_access_tokens(system, school):
    import jwt

    keys = requests.get(f"{system.url}/api/v1/auth/jwks.json", timeout=10)
    assert keys.status_code == 200 and keys.headers["Content-Type"].startswith("application/jwk-set+json")
    token = system.sign_in(school["parent"])["access_token"]
    header = jwt.get_unverified_header(token)
    [key] = [k for k in keys.json()["keys"] if k["kid"] == header["kid"]]
    claims = jwt.decode(token, jwt.PyJWK(key).key, algorithms=["EdDSA"], audience="dziennik", issuer="dziennik-identity")
    assert claims["sub"] == school["parent"].id and claims["typ"] == "access" and claims["roles"] == ["parent"]


def test_bad_input_and_unknown_students_change_nothing(system, school):
    teacher = system.headers(school["teacher"])
    before = len(system.sms_lines())
    bad = requests.post(
        f"{system.url}/api/v1/grades",
        json={"student_id": school["student"].id, "subject_id": school["subject_id"], "value": "7"},
        headers=teacher,
        timeout=10,
    )
    assert bad.status_code == 400
    assert bad.headers["Content-Type"].startswith("application/problem+json")
    assert bad.json()["code"] == "validation_error" and "value" in bad.json()["errors"]

    unknown = requests.get(f"{system.url}/api/v1/students/{uuid.uuid4()}/grades", headers=teacher, timeout=10)
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"

    parent = system.headers(school["parent"])
    grades = requests.get(f"{system.url}/api/v1/students/{school['student'].id}/grades", headers=parent, timeout=10).json()
    assert all(g["value"] != "7" for s in grades["subjects"] for g in s["grades"])
    time.sleep(1)
    assert len(system.sms_lines()) == before


def test_only_the_teacher_of_that_class_and_subject_records_grades(system, school):
    seeder = system.seeder()
    operator = seeder.sign_in(system.operator)
    # Another teacher of the same school, teaching nothing in 1A.
    school_id = requests.get(f"{system.url}/api/v1/me", headers=system.headers(school["teacher"]), timeout=10).json()["school_id"]
    other = seeder.person(operator, school_id, "teacher", "Olga", "Obca", "Inne-haslo-" + uuid.uuid4().hex[:6])
    answer = requests.post(
        f"{system.url}/api/v1/grades",
        json={"student_id": school["student"].id, "subject_id": school["subject_id"], "value": "1"},
        headers=system.headers(other),
        timeout=10,
    )
    assert answer.status_code == 404  # a teacher of other classes may not even see the student
    parent_tries = requests.post(
        f"{system.url}/api/v1/grades",
        json={"student_id": school["student"].id, "subject_id": school["subject_id"], "value": "6"},
        headers=system.headers(school["parent"]),
        timeout=10,
    )
    assert parent_tries.status_code == 403 and parent_tries.json()["code"] == "forbidden"
