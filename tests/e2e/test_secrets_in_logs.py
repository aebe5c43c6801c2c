"""No credential ends up in any process's log: a school account is created, activated, signs in,
enrols its second factor, signs in with a code, refreshes (and replays an old refresh token),
changes its password and fails a sign-in, all through the gateway; then the whole system's output
(every Procfile process, the gateway's included) must contain none of the values involved."""
from __future__ import annotations

import time
import uuid

import pytest
import requests

from tests.system import fresh_address
from tools.seed import Person

pytestmark = pytest.mark.e2e

PASSWORD = "Tajne-haslo-" + uuid.uuid4().hex[:10]
NEW_PASSWORD = "Nowe-tajne-haslo-" + uuid.uuid4().hex[:10]
WRONG_PASSWORD = "Zle-haslo-" + uuid.uuid4().hex[:10]


def call(system, method: str, path: str, expected: int, headers: dict | None = None, **kwargs) -> dict:
    answer = requests.request(
        method, f"{system.url}/api/v1{path}", headers={"X-Forwarded-For": fresh_address(), **(headers or {})}, timeout=15, **kwargs
    )
    assert answer.status_code == expected, f"{method} {path}: {answer.status_code} {answer.text}"
    return answer.json() if answer.content else {}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_no_password_token_code_or_secret_is_logged(system):
    seeder = system.seeder()
    operator = seeder.sign_in(system.operator)
    school_id = seeder.school(operator, f"Szkoła dyskretna {uuid.uuid4().hex[:6]}")
    secretary = seeder.person(operator, school_id, "school_admin", "Dorota", "Dyskretna", "Sekretariat-" + uuid.uuid4().hex[:8])
    office = bearer(system.sign_in(secretary)["access_token"])
    secrets: dict[str, str] = {"password": PASSWORD, "new password": NEW_PASSWORD, "wrong password": WRONG_PASSWORD}

    created = call(system, "POST", "/users", 201, office, json={"role": "teacher", "first_name": "Tomasz", "last_name": "Tajemniczy"})
    secrets["activation code"] = created["activation_code"]
    call(system, "POST", "/auth/activate", 400, json={"activation_code": created["activation_code"], "password": "haslo123"})  # too weak
    assert call(system, "POST", "/auth/activate", 200, json={"activation_code": created["activation_code"], "password": PASSWORD})["login"] == created["login"]
    teacher = Person(created["id"], created["login"], PASSWORD)

    first = call(system, "POST", "/auth/login", 200, json={"login": teacher.login, "password": PASSWORD})
    secrets |= {"first access token": first["access_token"], "first refresh token": first["refresh_token"]}
    enrolment = call(system, "POST", "/me/mfa/totp", 200, bearer(first["access_token"]))
    teacher.totp_secret = secrets["TOTP secret"] = enrolment["secret"]
    call(system, "POST", "/me/mfa/totp/confirm", 204, bearer(first["access_token"]), json={"code": teacher.next_code()})

    refreshed = call(system, "POST", "/auth/refresh", 200, json={"refresh_token": first["refresh_token"]})
    secrets |= {"refreshed access token": refreshed["access_token"], "refreshed refresh token": refreshed["refresh_token"]}
    call(system, "POST", "/auth/refresh", 401, json={"refresh_token": first["refresh_token"]})  # a replay ends the session

    challenge = call(system, "POST", "/auth/login", 200, json={"login": teacher.login, "password": PASSWORD})
    secrets["MFA token"] = challenge["mfa_token"]
    signed_in = call(system, "POST", "/auth/mfa", 200, json={"mfa_token": challenge["mfa_token"], "code": teacher.next_code()})
    secrets |= {"access token": signed_in["access_token"], "refresh token": signed_in["refresh_token"]}
    call(system, "GET", "/me", 200, bearer(signed_in["access_token"]))
    call(system, "GET", "/me", 401, {"Authorization": f"Bearer {signed_in['access_token']}x"})  # a broken token is refused

    call(system, "POST", "/me/password", 204, bearer(signed_in["access_token"]), json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    call(system, "POST", "/auth/login", 401, json={"login": teacher.login, "password": WRONG_PASSWORD})
    call(system, "POST", "/auth/logout", 204, bearer(signed_in["access_token"]))

    time.sleep(1)  # every process writes unbuffered; give the last lines a moment to land
    logs = system.logs()
    assert "refresh token reused" in logs  # identity's own line about the replay: this run's output is here
    leaked = sorted(name for name, value in secrets.items() if value in logs)
    assert not leaked, f"found in the system log: {', '.join(leaked)}"
