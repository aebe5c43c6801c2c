"""Identity through the public API: accounts made by the school, sign-in with the second
factor, sessions, throttling, tenancy, object-level checks and access tiers."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pyotp
import pytest

from dziennik.billing.v1.events_pb2 import PaymentSettled
from tests.conftest import wait_for
from tests.system import api, fresh_address
from tools.seed import Person

pytestmark = pytest.mark.e2e

PASSWORD = "Mocne-haslo-" + uuid.uuid4().hex[:6]


def new_school(system, policy: str) -> dict:
    """A school with its secretary (signed in through the gateway), a class, a student and a parent."""
    seeder = system.seeder()
    operator = seeder.sign_in(system.operator)
    school_id = seeder.school(operator, f"Szkoła {policy} {uuid.uuid4().hex[:6]}", policy=policy)
    secretary = seeder.person(operator, school_id, "school_admin", "Beata", "Biurowa", PASSWORD)
    office = system.headers(secretary)
    class_id = api(system, "POST", "/classes", office, json={"name": "3C", "school_year": "2026/2027"}).json()["id"]
    accounts = {}
    for role, first, extra in (("student", "Ignacy", {"class_id": class_id}), ("parent", "Irena", {})):
        if role == "parent":
            extra = {"children": [accounts["student"].id], "phone": "600 700 800"}
        created = api(system, "POST", "/users", office, json={"role": role, "first_name": first, "last_name": "Iksińska", **extra})
        assert created.status_code == 201, created.text
        body = created.json()
        assert api(system, "POST", "/auth/activate", json={"activation_code": body["activation_code"], "password": PASSWORD}).status_code == 200
        accounts[role] = Person(body["id"], body["login"], PASSWORD)
    return {"id": school_id, "secretary": secretary, "office": office, "class_id": class_id, **accounts}


@pytest.fixture(scope="module")
def brochure(system):
    return new_school(system, "brochure")


@pytest.fixture(scope="module")
def statutory(system):
    return new_school(system, "statutory")


def test_an_account_is_activated_once_with_a_strong_password(system, brochure):
    created = api(system, "POST", "/users", brochure["office"], json={"role": "teacher", "first_name": "Jan", "last_name": "Kowalski"})
    assert created.status_code == 201
    code = created.json()["activation_code"]
    weak = api(system, "POST", "/auth/activate", json={"activation_code": code, "password": "Kowalski2024"})
    assert weak.status_code == 400 and weak.json()["code"] == "weak_password" and "password" in weak.json()["errors"]
    short = api(system, "POST", "/auth/activate", json={"activation_code": code, "password": "x7#Q"})
    assert short.status_code == 400 and short.json()["code"] == "weak_password"
    done = api(system, "POST", "/auth/activate", json={"activation_code": code, "password": PASSWORD})
    assert done.status_code == 200 and done.json() == {"login": created.json()["login"]}
    again = api(system, "POST", "/auth/activate", json={"activation_code": code, "password": PASSWORD + "x"})
    assert again.status_code == 404


def test_staff_work_only_after_enrolling_totp_and_then_sign_in_with_a_code(system, brochure):
    created = api(system, "POST", "/users", brochure["office"], json={"role": "teacher", "first_name": "Wanda", "last_name": "Wychowawczyni"}).json()
    api(system, "POST", "/auth/activate", json={"activation_code": created["activation_code"], "password": PASSWORD})
    teacher = Person(created["id"], created["login"], PASSWORD)
    address = {"X-Forwarded-For": fresh_address()}

    first = api(system, "POST", "/auth/login", address, json={"login": teacher.login, "password": PASSWORD}).json()
    signed_in = {"Authorization": f"Bearer {first['access_token']}"}
    blocked = api(system, "GET", "/classes", signed_in)
    assert blocked.status_code == 403 and blocked.json()["code"] == "mfa_enrollment_required"
    me = api(system, "GET", "/me", signed_in).json()
    assert me["mfa_enrollment_required"] is True and me["mfa_enabled"] is False

    enrolment = api(system, "POST", "/me/mfa/totp", signed_in).json()
    assert enrolment["otpauth_uri"].startswith("otpauth://totp/") and teacher.login in enrolment["otpauth_uri"]
    teacher.totp_secret = enrolment["secret"]
    wrong = api(system, "POST", "/me/mfa/totp/confirm", signed_in, json={"code": "000000" if pyotp.TOTP(teacher.totp_secret).now() != "000000" else "111111"})
    assert wrong.status_code == 400
    assert api(system, "POST", "/me/mfa/totp/confirm", signed_in, json={"code": teacher.next_code()}).status_code == 204
    refreshed = api(system, "POST", "/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
    assert api(system, "GET", "/classes", {"Authorization": f"Bearer {refreshed['access_token']}"}).status_code == 200

    # From now on the password alone is not enough.
    second = api(system, "POST", "/auth/login", address, json={"login": teacher.login, "password": PASSWORD}).json()
    assert second == {"mfa_required": True, "mfa_token": second["mfa_token"]}
    code = teacher.next_code()
    tokens = api(system, "POST", "/auth/mfa", address, json={"mfa_token": second["mfa_token"], "code": code})
    assert tokens.status_code == 200 and tokens.json()["access_token"]
    replay = api(system, "POST", "/auth/mfa", address, json={"mfa_token": second["mfa_token"], "code": code})
    assert replay.status_code == 401  # a code is accepted once


def test_refresh_tokens_rotate_and_a_reused_one_ends_the_session(system, brochure):
    pair = system.sign_in(brochure["parent"])
    newer = api(system, "POST", "/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert newer.status_code == 200 and newer.json()["refresh_token"] != pair["refresh_token"]
    reused = api(system, "POST", "/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert reused.status_code == 401
    # The thief's replay revoked the whole family, the legitimate newest token included.
    assert api(system, "POST", "/auth/refresh", json={"refresh_token": newer.json()["refresh_token"]}).status_code == 401


def test_logout_ends_the_session_and_a_password_change_ends_the_others(system, brochure):
    parent = brochure["parent"]
    kept, other = system.sign_in(parent), system.sign_in(parent)
    assert api(system, "POST", "/auth/logout", {"Authorization": f"Bearer {other['access_token']}"}).status_code == 204
    assert api(system, "POST", "/auth/refresh", json={"refresh_token": other["refresh_token"]}).status_code == 401

    third = system.sign_in(parent)
    new_password = "Zupelnie-nowe-" + uuid.uuid4().hex[:6]
    changed = api(
        system, "POST", "/me/password", {"Authorization": f"Bearer {kept['access_token']}"},
        json={"current_password": parent.password, "new_password": new_password},
    )
    assert changed.status_code == 204
    parent.password = new_password
    assert api(system, "POST", "/auth/refresh", json={"refresh_token": third["refresh_token"]}).status_code == 401
    assert api(system, "POST", "/auth/refresh", json={"refresh_token": kept["refresh_token"]}).status_code == 200


def test_failed_sign_ins_are_slowed_down_without_locking_the_owner_out(system, statutory):
    parent = statutory["parent"]
    attacker = {"X-Forwarded-For": fresh_address()}
    answers = [api(system, "POST", "/auth/login", attacker, json={"login": parent.login, "password": f"zgaduje-{n}"}) for n in range(7)]
    assert [a.status_code for a in answers[:5]] == [401] * 5
    assert all(a.json()["code"] == "invalid_credentials" for a in answers[:5])
    throttled = answers[-1]
    assert throttled.status_code == 429 and throttled.json()["code"] == "rate_limited"
    assert int(throttled.headers["Retry-After"]) >= 1
    # The owner, from their own address, signs in as usual.
    assert api(system, "POST", "/auth/login", {"X-Forwarded-For": fresh_address()}, json={"login": parent.login, "password": parent.password}).status_code == 200
    # An unknown login gets the same 401 as a wrong password.
    unknown = api(system, "POST", "/auth/login", {"X-Forwarded-For": fresh_address()}, json={"login": "nikt.taki", "password": "zgaduje"})
    assert unknown.status_code == 401 and unknown.json()["code"] == "invalid_credentials"


def test_a_school_admin_cannot_see_or_change_another_school(system, brochure, statutory):
    intruder = statutory["office"]
    people = api(system, "GET", "/users", intruder).json()
    assert {p["id"] for p in people}.isdisjoint({brochure["student"].id, brochure["parent"].id})
    assert api(system, "GET", "/users", intruder, params={"school_id": brochure["id"]}).status_code == 404
    assert api(system, "PATCH", f"/classes/{brochure['class_id']}", intruder, json={"name": "hacked"}).status_code == 404
    foreign_student = api(system, "POST", "/users", intruder, json={"role": "student", "first_name": "A", "last_name": "B", "class_id": brochure["class_id"]})
    assert foreign_student.status_code == 400 and "class_id" in foreign_student.json()["errors"]
    foreign_parent = api(system, "POST", "/users", intruder, json={"role": "parent", "first_name": "A", "last_name": "B", "children": [brochure["student"].id]})
    assert foreign_parent.status_code == 400 and "children" in foreign_parent.json()["errors"]
    upload = api(system, "POST", f"/classes/{brochure['class_id']}/students/import", {**intruder, "Content-Type": "text/csv"}, data="imie_ucznia;nazwisko_ucznia\nA;B\n")
    assert upload.status_code == 404
    assert api(system, "GET", f"/students/{brochure['student'].id}/grades", intruder).status_code == 404
    # Nothing was created in either school by the attempts.
    assert not [p for p in api(system, "GET", "/users", intruder).json() if p["first_name"] == "A"]


def test_a_parent_never_learns_about_another_familys_child(system, brochure, statutory):
    other_parent = system.headers(statutory["parent"])
    for path in (f"/students/{brochure['student'].id}/grades", f"/students/{uuid.uuid4()}/grades"):
        answer = api(system, "GET", path, other_parent)
        assert answer.status_code == 404 and answer.json()["code"] == "not_found"


def test_the_access_policy_decides_and_a_payment_extends_parent_and_child_once(system, brochure, statutory):
    # statutory: register data is free
    assert api(system, "GET", f"/students/{statutory['student'].id}/grades", system.headers(statutory["parent"])).status_code == 200
    # brochure: grades need extended access, for the parent and the student alike
    parent, student = system.headers(brochure["parent"]), system.headers(brochure["student"])
    for who in (parent, student):
        answer = api(system, "GET", f"/students/{brochure['student'].id}/grades", who)
        assert answer.status_code == 402 and answer.json()["code"] == "extended_access_required"
    me = api(system, "GET", "/me", parent).json()
    assert me["children"][0]["access"] == {"tier": "basic", "valid_until": None}

    payment = PaymentSettled(
        order_id=str(uuid.uuid4()), school_id=brochure["id"], parent_id=brochure["parent"].id, student_id=brochure["student"].id,
        product="extended_access", period_months=12, amount=2200, channel="payu",
    )
    event_id = str(uuid.uuid4())
    for _ in range(2):  # billing's relay may publish the same event twice
        system.publish("billing.payment_settled.v1", payment, event_id)

    wait_for(lambda: api(system, "GET", f"/students/{brochure['student'].id}/grades", parent).status_code == 200, timeout=30, message="extended access")
    assert api(system, "GET", f"/students/{brochure['student'].id}/grades", student).status_code == 200
    today = datetime.now(ZoneInfo("Europe/Warsaw")).date()
    expected = (today.replace(year=today.year + 1) - timedelta(days=1)).isoformat()
    me = api(system, "GET", "/me", parent).json()
    assert me["children"][0]["access"] == {"tier": "extended", "valid_until": expected}
    assert me["access"] == {"tier": "extended", "valid_until": expected}
    assert api(system, "GET", "/me", student).json()["access"] == {"tier": "extended", "valid_until": expected}


def test_the_platform_operator_switches_a_school_to_the_statutory_preset(system):
    school = new_school(system, "brochure")
    parent = system.headers(school["parent"])
    assert api(system, "GET", f"/students/{school['student'].id}/grades", parent).status_code == 402
    assert api(system, "PATCH", f"/schools/{school['id']}", school["office"], json={"access_policy": "statutory"}).status_code == 204
    assert api(system, "GET", f"/students/{school['student'].id}/grades", parent).status_code == 200
    bad = api(system, "PATCH", f"/schools/{school['id']}", school["office"], json={"access_policy": "free-for-all"})
    assert bad.status_code == 400 and "access_policy" in bad.json()["errors"]


def test_a_class_list_is_imported_from_csv_all_or_nothing(system, brochure):
    office = {**brochure["office"], "Content-Type": "text/csv"}
    rows = [
        "imie_ucznia;nazwisko_ucznia;imie_rodzica_1;nazwisko_rodzica_1;email_rodzica_1;telefon_rodzica_1",
        "Łucja;Żak;Maria;Żak;maria.zak@example.pl;601 001 001",
        "Tymon;Żak;Maria;Żak;maria.zak@example.pl;601 001 001",
        "Olaf;Nowicki;Paweł;Nowicki;;602002002",
    ]
    broken = rows[:2] + ["Ala;Kot;Jan;Kot;;12"]
    refused = api(system, "POST", f"/classes/{brochure['class_id']}/students/import", office, data="\n".join(broken).encode())
    assert refused.status_code == 400 and any(key.startswith("wiersz 3") for key in refused.json()["errors"])
    assert not [p for p in api(system, "GET", "/users", brochure["office"]).json() if p["last_name"] in ("Żak", "Kot")]

    imported = api(system, "POST", f"/classes/{brochure['class_id']}/students/import", office, data="\n".join(rows).encode("cp1250"))
    assert imported.status_code == 201, imported.text
    created = imported.json()["created"]
    assert [(c["row"], c["student"]["first_name"]) for c in created] == [(2, "Łucja"), (3, "Tymon"), (4, "Olaf")]
    assert all(c["student"]["activation_code"] for c in created)
    assert [p["existing"] for c in created for p in c["parents"]] == [False, True, False]  # siblings share their mother
    in_class = api(system, "GET", "/users", brochure["office"], params={"class_id": brochure["class_id"], "role": "student"}).json()
    assert {"Łucja", "Tymon", "Olaf"} <= {p["first_name"] for p in in_class}
