"""The fault suite's system: every Procfile process but the demo, each started on its own so a test
can kill, stop and restart it; the SMS provider is a local SMSAPI the tests can break; and a
school whose families paid for SMS alerts and turned them on."""
from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass, field

import pytest
import requests

from tests.conftest import wait_for
from tests.fakes.smsapi import FakeSmsApi
from tests.faults.report import Row, write_report
from tests.system import ARTIFACTS, Cluster, Resources, System, procfile, start_system, wait_ready
from tools.seed import Person

PASSWORD = "Awarie-" + uuid.uuid4().hex[:8]
_phones = itertools.count(1)


@pytest.fixture(scope="session")
def sms_provider():
    fake = FakeSmsApi(token="faults-" + uuid.uuid4().hex[:8]).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def cluster(tmp_path_factory, sms_provider) -> Cluster:
    resources = Resources.create()
    log = ARTIFACTS / "faults" / f"system-{int(time.time())}"
    system, _ = start_system(
        tmp_path_factory.mktemp("var"), resources, log,
        SMS_PROVIDER="smsapi", SMSAPI_BASE_URL=sms_provider.url, SMSAPI_TOKEN=sms_provider.token,
        PAYU_SIMULATOR_TROUBLE="0",
    )
    cluster = Cluster(system, [name for name in procfile() if name != "demo"])
    cluster.start()
    try:
        wait_ready(system, cluster.alive, timeout=120)
        yield cluster
    finally:
        cluster.stop()
        resources.release()


@pytest.fixture(autouse=True)
def each_scenario_starts_whole(cluster):
    """A scenario that failed with processes stopped must not fail the ones after it."""
    if cluster.revive():
        wait_ready(cluster.system, cluster.alive, timeout=120)
    yield


@pytest.fixture(scope="session")
def report():
    rows: list[Row] = []
    yield rows
    if rows:
        write_report(rows)


@dataclass
class Family:
    student: Person
    parent: Person
    phone: str


@dataclass
class School:
    """One school, a maths teacher of one class, and families created on demand."""

    system: System
    secretary: Person
    teacher: Person
    school_id: str
    class_id: str
    subject_id: str
    office: tuple = field(repr=False, default=())

    def families(self, count: int, events: tuple[str, ...] = ("grade_recorded",)) -> list[Family]:
        """`count` children each with a parent of their own phone, who bought the SMS add-on
        and turned on SMS for `events`."""
        seeder = self.system.seeder()
        made = []
        for _ in range(count):
            number = next(_phones)
            student = seeder.person(self.office, self.school_id, "student", "Ala", f"Uczennica{number}", PASSWORD, class_id=self.class_id)
            phone = f"+48609{uuid.uuid4().int % 1000:03d}{number:03d}"
            parent = seeder.person(self.office, self.school_id, "parent", "Ewa", f"Rodzic{number}", PASSWORD, phone=phone, children=(student,))
            seeder.pay_cash(self.office, parent, student, "sms_alerts")
            body = {"sms_enabled": True, "phone": "", "events": list(events), "quiet_hours": None}
            answer = requests.put(f"{self.system.url}/api/v1/me/notification-settings", json=body, headers=self.system.headers(parent), timeout=30)
            assert answer.status_code == 200, answer.text
            made.append(Family(student, parent, phone))

        def add_ons_applied() -> bool:
            for family in made:
                me = requests.get(f"{self.system.url}/api/v1/me", headers=self.system.headers(family.parent), timeout=30).json()
                if not me["children"][0]["sms_alerts"]["allowed"]:
                    return False
            return True

        wait_for(add_ons_applied, timeout=60, interval=0.5, message="the SMS add-ons applied")
        return made


@pytest.fixture(scope="session")
def school(cluster) -> School:
    system = cluster.system
    seeder = system.seeder()
    operator = seeder.sign_in(system.operator)
    school_id = seeder.school(operator, f"Szkoła awaryjna {uuid.uuid4().hex[:6]}", policy="statutory")
    secretary = seeder.person(operator, school_id, "school_admin", "Sara", "Sekretarz", PASSWORD)
    office = seeder.sign_in(secretary)
    teacher = seeder.person(office, school_id, "teacher", "Tadeusz", "Tablica", PASSWORD)
    class_id = seeder.school_class(office, school_id, "8F", "2026/2027")
    subject_id = seeder.subject(office, "Matematyka")
    seeder.assign(office, teacher, class_id, subject_id)
    return School(system, secretary, teacher, school_id, class_id, subject_id, office)
