"""Identity keeps the audit trail (on PostgreSQL, and on SQLite for `make run`): entries kept once
however often a batch is sent, every field as sent, read per school by its admin only, filtered by
student or account; and the alarm for an account changing an unusual number of grades sounds once,
with a log line and a metric."""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from platform_kit.auth import SERVICE, Principal
from platform_kit.db import Database
from sqlalchemy.exc import DataError

from platform_kit.errors import NotFound, PermissionDenied
from platform_kit.migrations import upgrade
from services.identity.audit import AuditTrail, BulkRule

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "identity" / "migrations"
SCHOOL, OTHER_SCHOOL = str(uuid.uuid4()), str(uuid.uuid4())
TEACHER, PARENT, STUDENT = (str(uuid.uuid4()) for _ in range(3))
SECRETARY = Principal(user_id=str(uuid.uuid4()), school_id=SCHOOL, roles=frozenset({"school_admin"}))


@pytest.fixture(params=["postgresql", "sqlite"])
def trail(request, postgres_databases, tmp_path):
    yield from _trail(postgres_databases("identity") if request.param == "postgresql" else f"sqlite:///{tmp_path / 'identity.db'}")


@pytest.fixture
def postgres_trail(postgres_databases):
    yield from _trail(postgres_databases("identity"))


def _trail(url: str):
    database = Database(url)
    upgrade(database, MIGRATIONS)
    yield AuditTrail(database, BulkRule(threshold=5, window=timedelta(minutes=10)))
    database.dispose()


def entry(actor: str, action: str, resource: str, subject: str, *, school: str = SCHOOL, kind: str = "student") -> dict:
    return {
        "id": str(uuid.uuid4()), "at": datetime.now(timezone.utc), "school_id": school, "actor_id": actor, "actor_roles": "teacher", "action": action,
        "resource": resource, "subject_kind": kind, "subject_id": subject, "method": "GET", "path": "/api/v1/x", "status": 200, "request_id": "r", "client_ip": "10.0.0.1",
    }


def window() -> dict:
    now = datetime.now(timezone.utc)
    return {"start": now - timedelta(hours=1), "end": now + timedelta(hours=1)}


def test_entries_are_kept_once_and_read_per_school_by_its_admin(trail):
    read = entry(PARENT, "read", "grades", STUDENT)
    change = entry(TEACHER, "change", "grades", STUDENT)
    elsewhere = entry(TEACHER, "read", "grades", STUDENT, school=OTHER_SCHOOL)
    assert trail.record(SERVICE, [read, change, elsewhere]) == 3
    assert trail.record(SERVICE, [read, change]) == 0  # a retried batch
    assert [(e.actor_id, e.action) for e in trail.entries(SECRETARY, **window())] == [(TEACHER, "change"), (PARENT, "read")]
    assert [e.actor_id for e in trail.entries(SECRETARY, student_id=STUDENT, actor_id=PARENT, **window())] == [PARENT]
    assert trail.entries(SECRETARY, student_id=str(uuid.uuid4()), **window()) == []


def test_every_field_is_kept_as_sent_in_batches_of_any_size_and_only_new_ids_are_added(trail):
    sent = [entry(PARENT, "read", "grades", STUDENT) | {"status": 200 + n, "path": f"/api/v1/students/{n}/grades", "client_ip": f"10.0.0.{n}"} for n in range(7)]
    sent[3] |= {"actor_roles": "parent,student", "method": "HEAD", "request_id": "x" * 128, "subject_kind": "class"}
    assert trail.record(SERVICE, sent[:1]) == 1
    assert trail.record(SERVICE, sent[:5]) == 4  # the first was kept already
    assert trail.record(SERVICE, sent + sent[5:]) == 2  # a batch naming an entry twice keeps it once
    kept = {e.id: e for e in trail.entries(SECRETARY, **window())}
    assert set(kept) == {e["id"] for e in sent}
    for e in sent:
        row = kept[e["id"]]
        assert {k: getattr(row, k) for k in e if k != "at"} == {k: v for k, v in e.items() if k != "at"}
        assert row.at.replace(tzinfo=row.at.tzinfo or timezone.utc) == e["at"]


def test_a_batch_with_a_value_too_long_for_its_column_keeps_nothing(postgres_trail):
    # PostgreSQL's column lengths (SQLite does not enforce them): refused, not cut short.
    good, bad = entry(PARENT, "read", "grades", STUDENT), entry(PARENT, "read", "grades", STUDENT) | {"id": "x" * 37}
    with pytest.raises(DataError):
        postgres_trail.record(SERVICE, [good, bad])
    assert postgres_trail.entries(SECRETARY, **window()) == []


def test_only_services_record_and_only_the_schools_admin_or_principal_reads(trail):
    with pytest.raises(NotFound):
        trail.record(Principal(user_id=TEACHER, school_id=SCHOOL, roles=frozenset({"teacher"})), [entry(TEACHER, "read", "grades", STUDENT)])
    for roles in ({"teacher"}, {"parent"}, {"student"}):
        with pytest.raises(PermissionDenied):
            trail.entries(Principal(user_id=TEACHER, school_id=SCHOOL, roles=frozenset(roles)), **window())
    principal = Principal(user_id=str(uuid.uuid4()), school_id=SCHOOL, roles=frozenset({"principal"}))
    assert trail.entries(principal, **window()) == []


def test_bulk_grade_changes_sound_the_alarm_once(trail, caplog):
    def alarms() -> float:
        return REGISTRY.get_sample_value("audit_bulk_grade_changes_total") or 0.0

    before = alarms()
    with caplog.at_level(logging.WARNING, logger="services.identity.audit"):
        trail.record(SERVICE, [entry(TEACHER, "change", "grades", STUDENT) for _ in range(4)])
        trail.record(SERVICE, [entry(TEACHER, "read", "grades", STUDENT) for _ in range(10)])  # reads do not count
        assert alarms() == before
        trail.record(SERVICE, [entry(TEACHER, "change", "grades", STUDENT) for _ in range(3)])  # 7 > 5
        trail.record(SERVICE, [entry(TEACHER, "change", "grades", STUDENT) for _ in range(3)])  # still over: no second alarm
        trail.record(SERVICE, [entry(PARENT, "change", "excuses", STUDENT) for _ in range(9)])  # not grades
    assert alarms() == before + 1
    [warning] = [r for r in caplog.records if "unusual number of grade changes" in r.getMessage()]
    assert TEACHER in warning.getMessage() and SCHOOL in warning.getMessage()
