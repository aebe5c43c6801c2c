"""The served OpenAPI document against the running system (schemathesis): every operation, called
with generated input as each kind of user, answers without a 5xx, with a documented status and
content type, a body that matches the documented schema (problem details for every error) and
rejects input the document calls invalid.

A school with a class, people of every role, grades, a lesson with marks, an excuse, a message, an
announcement, an event, a ticket and orders is seeded first; generated valid requests name its
objects in the path (and ids in the body), so answers with data are checked too, not only 404s.
Bounded: a few derandomized examples per operation and role, no shrinking, no coverage phase."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway import create_app
from tests.system import fresh_address

pytestmark = pytest.mark.e2e

PASSWORD = "Schematy-" + uuid.uuid4().hex[:8]
TODAY = datetime.now(ZoneInfo("Europe/Warsaw")).date()
SCHOOL_YEAR = f"{TODAY.year}/{TODAY.year + 1}" if TODAY.month >= 9 else f"{TODAY.year - 1}/{TODAY.year}"
EXAMPLES_PER_OPERATION = 3
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# Body fields that name an object: valid requests name the seeded one, so writes can succeed.
BODY_IDS = ("student_id", "subject_id", "class_id", "category_id", "teacher_id", "homeroom_teacher_id")


def api(system, method: str, path: str, headers: dict, **kwargs) -> requests.Response:
    answer = requests.request(method, f"{system.url}/api/v1{path}", headers={**headers, "X-Forwarded-For": fresh_address()}, timeout=15, **kwargs)
    assert answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text}"
    return answer


@pytest.fixture(scope="module")
def school(system) -> dict:
    """Class 1A of a statutory school and one of everything the API shows; returns the headers of
    each role and the ids generated requests use."""
    seeder = system.seeder()
    operator = seeder.sign_in(system.operator)
    school_id = seeder.school(operator, f"Szkoła schematów {uuid.uuid4().hex[:6]}", policy="statutory")
    secretary = seeder.person(operator, school_id, "school_admin", "Sonia", "Schematyczna", PASSWORD)
    office = seeder.sign_in(secretary)
    teacher = seeder.person(office, school_id, "teacher", "Tadeusz", "Testowy", PASSWORD)
    principal = seeder.person(office, school_id, "principal", "Paula", "Przełożona", PASSWORD)
    class_id = seeder.school_class(office, school_id, "1A", SCHOOL_YEAR, homeroom=teacher)
    ala = seeder.person(office, school_id, "student", "Ala", "Generowana", PASSWORD, class_id=class_id)
    bartek = seeder.person(office, school_id, "student", "Bartek", "Losowy", PASSWORD, class_id=class_id)
    parent = seeder.person(office, school_id, "parent", "Halina", "Generowana", PASSWORD, phone="+48600100200", children=(ala,))
    seeder.person(office, school_id, "parent", "Marek", "Losowy", PASSWORD, children=(bartek,))
    maths = seeder.subject(office, "Matematyka", "mat")
    seeder.assign(office, teacher, class_id, maths)

    h = {
        "school_admin": system.headers(secretary), "principal": system.headers(principal), "teacher": system.headers(teacher),
        "parent": system.headers(parent), "student": system.headers(ala), "superadmin": system.headers(system.operator),
    }
    category = api(system, "POST", "/grade-categories", h["school_admin"], json={"name": "sprawdzian", "weight": 3, "counts_to_average": True}).json()["id"]
    grade = api(system, "POST", "/grades", h["teacher"], json={"student_id": ala.id, "subject_id": maths, "category_id": category, "value": "4+", "comment": "Dobrze"}).json()["id"]
    api(system, "POST", "/grades", h["teacher"], json={"student_id": ala.id, "subject_id": maths, "points": "17.5", "max_points": "20"})
    api(system, "PUT", f"/classes/{class_id}/timetable", h["school_admin"], json={
        "school_year": SCHOOL_YEAR, "entries": [{"weekday": d, "lesson_no": 1, "subject_id": maths, "teacher_id": teacher.id, "room": "12"} for d in range(1, 6)]})
    lesson = api(system, "POST", "/lessons", h["teacher"], json={"class_id": class_id, "subject_id": maths, "date": TODAY.isoformat(), "lesson_no": 7, "topic": "Ułamki"}).json()["id"]
    api(system, "PUT", f"/lessons/{lesson}/attendance", h["teacher"], json={"entries": [{"student_id": ala.id, "status": "absent"}, {"student_id": bartek.id, "status": "late"}]})
    excuse = api(system, "POST", f"/students/{ala.id}/excuses", h["parent"], json={"lesson_ids": [lesson], "reason": "Choroba"}).json()["id"]
    attachment = api(system, "POST", "/messages/attachments?filename=plan.txt", {**h["teacher"], "Content-Type": "text/plain"}, data=b"Plan lekcji").json()["id"]
    message = api(system, "POST", "/messages", h["teacher"], json={"recipient_ids": [parent.id], "subject": "Wycieczka", "body": "Zgoda na wycieczkę", "attachment_ids": [attachment]}).json()["id"]
    api(system, "POST", "/messages", h["parent"], json={"recipient_ids": [teacher.id], "subject": "Re: Wycieczka", "body": "Zgoda", "in_reply_to": message})
    announcement = api(system, "POST", "/announcements", h["school_admin"], json={"title": "Zebranie", "body": "We wtorek o 17:00"}).json()["id"]
    api(system, "POST", "/calendar/events", h["teacher"], json={"kind": "test", "title": "Sprawdzian", "date": (TODAY + timedelta(days=7)).isoformat(), "class_id": class_id, "subject_id": maths})
    ticket = api(system, "POST", "/support/tickets", h["parent"], json={"subject": "Hasło", "body": "Nie pamiętam hasła dziecka."}).json()["id"]
    order = api(system, "POST", "/billing/orders", h["parent"], json={"product": "extended_access", "student_id": ala.id, "channel": "bank_transfer"}).json()["id"]
    cash = api(system, "POST", "/billing/orders", h["parent"], json={"product": "sms_alerts", "student_id": ala.id, "channel": "cash"}).json()
    api(system, "POST", f"/billing/orders/{cash['id']}/cash-payment", h["school_admin"], json={"amount": cash["amount"]})
    feed = api(system, "POST", "/me/calendar-feed", h["parent"]).json()["url"]
    return {
        "headers": h,
        "path": {
            "school_id": school_id, "class_id": class_id, "student_id": ala.id, "teacher_id": teacher.id, "subject_id": maths, "grade_id": grade,
            "lesson_id": lesson, "excuse_id": excuse, "message_id": message, "attachment_id": attachment, "announcement_id": announcement,
            "ticket_id": ticket, "order_id": order, "code": "extended_access", "provider": "smsapi", "token": feed.rsplit("/", 1)[1].removesuffix(".ics"),
        },
        "body": {"student_id": ala.id, "subject_id": maths, "class_id": class_id, "category_id": category, "teacher_id": teacher.id, "homeroom_teacher_id": teacher.id},
    }


# Files go as they are: the attachment types (PDF, DOCX, ODT) and a CSV class list.
schemathesis.serializer.alias(
    ["application/pdf", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/vnd.oasis.opendocument.text"],
    "application/octet-stream",
)
schemathesis.serializer.alias("text/csv", "text/plain")


def _document() -> dict:
    """The OpenAPI document as the gateway builds it (no backend needed), so pytest makes one test
    per operation when it collects (schemathesis's lazy `from_fixture` does not work with pytest 9.2);
    the first test checks that the running gateway serves exactly this document."""
    return create_app().test_client().get("/api/v1/openapi.json").get_json()


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(
    DOCUMENT,
    config=schemathesis.Config.from_dict({
        "seed": 20261204,
        "generation": {"mode": "all", "max-examples": EXAMPLES_PER_OPERATION, "with-security-parameters": False},
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    }),
)


def test_the_gateway_serves_the_tested_document(system):
    served = requests.get(f"{system.url}/api/v1/openapi.json", timeout=15)

    assert served.status_code == 200
    assert served.json() == DOCUMENT


def _answers_to(role: str):
    """Every operation called as `role` with generated input (one test per operation)."""

    @schema.parametrize()
    @settings(
        max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
        phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
    )
    def test(case, system, school):
        if case.meta is not None and case.meta.generation.mode.is_positive:
            for name in case.path_parameters or {}:
                if name in school["path"]:
                    case.path_parameters[name] = school["path"][name]
            if isinstance(case.body, dict):
                for name in BODY_IDS:
                    if name in case.body and isinstance(case.body[name], str):
                        case.body[name] = school["body"][name]
        # A client address of its own per request: generated sign-ins fail, and must never slow
        # down the other tests' sign-ins (throttling counts per address).
        headers = {**school["headers"][role], "X-Forwarded-For": fresh_address()}
        case.call_and_validate(base_url=system.url, headers=headers, checks=CHECKS, timeout=30)

    return test


test_answers_to_school_admin_are_documented = _answers_to("school_admin")
test_answers_to_principal_are_documented = _answers_to("principal")
test_answers_to_teacher_are_documented = _answers_to("teacher")
test_answers_to_parent_are_documented = _answers_to("parent")
test_answers_to_student_are_documented = _answers_to("student")
# The operator has not enrolled a second factor here (other tests sign in as it without one), so
# beyond sign-in and /me its answers are 403 mfa_enrollment_required: checked all the same.
test_answers_to_superadmin_are_documented = _answers_to("superadmin")
