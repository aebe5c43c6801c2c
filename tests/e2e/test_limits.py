"""Limits of the public API: rate limits shared by the gateway's workers answer 429 with
Retry-After, per account or per address, without touching anyone else; bodies over the limit 413."""
from __future__ import annotations

import uuid

import pytest

from tests.system import api, fresh_address

pytestmark = pytest.mark.e2e

PASSWORD = "Limity-" + uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def school(system):
    seeder = system.seeder()
    operator = seeder.sign_in(system.operator)
    school_id = seeder.school(operator, f"Szkoła limitów {uuid.uuid4().hex[:6]}")
    secretary = seeder.person(operator, school_id, "school_admin", "Lidia", "Limitowa", PASSWORD)
    office = seeder.sign_in(secretary)
    teachers = [seeder.person(office, school_id, "teacher", "Leon", f"Limit{n}", PASSWORD) for n in range(2)]
    return {"secretary": secretary, "teachers": teachers}


def test_an_account_sending_too_many_messages_gets_429_and_others_still_send(system, school):
    spammer, colleague = school["teachers"]
    headers = {**system.headers(spammer), "X-Forwarded-For": fresh_address()}
    message = {"recipient_ids": [colleague.id], "subject": "Zebranie", "body": "Przypominam o zebraniu."}
    codes = [api(system, "POST", "/messages", headers, json=message).status_code for _ in range(11)]
    assert codes == [201] * 10 + [429]  # GATEWAY_MESSAGES_PER_HOUR=10 in the test system
    refused = api(system, "POST", "/messages", headers, json=message)
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 3600
    assert refused.headers["Content-Type"].startswith("application/problem+json") and refused.json()["code"] == "rate_limited"
    inbox = api(system, "GET", "/messages", system.headers(colleague), params={"folder": "inbox"}).json()["items"]
    assert sum(1 for m in inbox if m["subject"] == "Zebranie") == 10  # the refused ones changed nothing
    back = api(system, "POST", "/messages", system.headers(colleague), json={**message, "recipient_ids": [spammer.id]})
    assert back.status_code == 201  # the limit is the spammer's, not the school's


def test_guessing_activation_codes_from_one_address_is_stopped(system):
    address = fresh_address()
    attempts = [
        api(system, "POST", "/auth/activate", {"X-Forwarded-For": address}, json={"activation_code": f"ZGADYWANY{n:04d}", "password": PASSWORD}).status_code
        for n in range(61)
    ]
    assert set(attempts[:60]) <= {400, 404} and attempts[60] == 429
    elsewhere = api(system, "POST", "/auth/activate", {"X-Forwarded-For": fresh_address()}, json={"activation_code": "ZGADYWANY9999", "password": PASSWORD})
    assert elsewhere.status_code in (400, 404)  # another address is not affected


def test_a_body_over_the_limit_is_refused_with_413(system, school):
    headers = system.headers(school["secretary"])
    huge = {"recipient_ids": [school["teachers"][1].id], "subject": "Duży", "body": "x" * (2 * 1024 * 1024)}
    answer = api(system, "POST", "/messages", headers, json=huge)
    assert answer.status_code == 413 and answer.headers["Content-Type"].startswith("application/problem+json")
