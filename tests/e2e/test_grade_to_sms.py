"""One grade travels from a teacher to a parent's phone, with every process running on
PostgreSQL and RabbitMQ, driven through the public API."""
from __future__ import annotations

import json
import time
import uuid

import pytest
import requests

from tests.conftest import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def school(system):
    """A school with a secretary, a teacher, a student and a parent with a phone, set up over gRPC."""
    seeder = system.seeder()
    admin = seeder.sign_in(system.admin_login, system.admin_password)
    school_id = seeder.school(admin, f"Szkoła testowa {uuid.uuid4().hex[:6]}")
    password = "Test-haslo-" + uuid.uuid4().hex[:8]
    secretary = seeder.person(admin, school_id, "school_admin", "Barbara", "Sekretarska", password)
    teacher = seeder.person(admin, school_id, "teacher", "Tomasz", "Nauczycielski", password)
    student = seeder.person(admin, school_id, "student", "Zofia", "Żółkiewska", password)
    parent = seeder.person(admin, school_id, "parent", "Anna", "Żółkiewska", password, phone="+48601234567")
    seeder.link(admin, parent, student)
    subject_id = seeder.subject(seeder.sign_in(secretary.login, password), "Matematyka")
    return {"teacher": teacher, "student": student, "parent": parent, "subject_id": subject_id}


def login(system, person) -> dict:
    answer = requests.post(f"{system.url}/api/v1/auth/login", json={"login": person.login, "password": person.password}, timeout=10)
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] > 0 and tokens["refresh_token"]
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def test_a_grade_recorded_by_a_teacher_reaches_the_parent_once_by_sms(system, school):
    teacher = login(system, school["teacher"])
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
    parent = login(system, school["parent"])
    me = requests.get(f"{system.url}/api/v1/me", headers=parent, timeout=10).json()
    assert [c["student_id"] for c in me["children"]] == [school["student"].id]
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
    teacher = login(system, school["teacher"])
    requests.get(f"{system.url}/api/v1/students/{school['student'].id}/grades", headers=teacher, timeout=10)
    gateway = requests.get(f"{system.url}/metrics", timeout=10).text
    assert 'http_requests_total{endpoint="/api/v1/students/<student_id>/grades",method="GET",status="200"}' in gateway
    gradebook = requests.get(system.metrics_url("gradebook"), timeout=10).text
    assert 'grpc_server_handled_total{grpc_code="OK",grpc_method="ListStudentGrades",grpc_service="dziennik.gradebook.v1.GradebookService"}' in gradebook
    relay = requests.get(system.metrics_url("gradebook-relay"), timeout=10).text
    assert 'events_published_total{routing_key="gradebook.grade_recorded.v1"}' in relay
    consumer = requests.get(system.metrics_url("notify-consumer"), timeout=10).text
    assert 'events_consumed_total{consumer="notify.sms_alerts",outcome="handled",routing_key="gradebook.grade_recorded.v1"}' in consumer


def test_identity_publishes_the_keys_that_verify_access_tokens(system, school):
    import jwt

    keys = requests.get(f"{system.url}/api/v1/auth/jwks.json", timeout=10)
    assert keys.status_code == 200 and keys.headers["Content-Type"].startswith("application/jwk-set+json")
    token = login(system, school["parent"])["Authorization"].split()[1]
    header = jwt.get_unverified_header(token)
    [key] = [k for k in keys.json()["keys"] if k["kid"] == header["kid"]]
    claims = jwt.decode(token, jwt.PyJWK(key).key, algorithms=["EdDSA"], audience="dziennik", issuer="dziennik-identity")
    assert claims["sub"] == school["parent"].id and claims["typ"] == "access" and claims["roles"] == ["parent"]


def test_someone_elses_child_is_not_found_and_bad_input_changes_nothing(system, school):
    teacher = login(system, school["teacher"])
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

    wrong_password = requests.post(
        f"{system.url}/api/v1/auth/login", json={"login": school["teacher"].login, "password": "wrong-password"}, timeout=10
    )
    no_such_login = requests.post(f"{system.url}/api/v1/auth/login", json={"login": "nobody.here", "password": "wrong-password"}, timeout=10)
    assert wrong_password.status_code == no_such_login.status_code == 401
    assert wrong_password.json()["code"] == no_such_login.json()["code"] == "invalid_credentials"

    parent = login(system, school["parent"])
    grades = requests.get(f"{system.url}/api/v1/students/{school['student'].id}/grades", headers=parent, timeout=10).json()
    assert all(g["value"] != "7" for s in grades["subjects"] for g in s["grades"])
    time.sleep(1)
    assert len(system.sms_lines()) == before
