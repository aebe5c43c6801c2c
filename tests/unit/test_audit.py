"""The audit trail's gateway half: which requests are recorded and about whom, and a recorder that
never blocks a request, keeps what identity has not taken yet and sends in batches."""
from __future__ import annotations

from datetime import timedelta

import pytest

from dziennik.identity.v1 import identity_pb2 as pb
from gateway.app import create_app
from gateway.audit import AUDIT_DROPPED, AUDITED, AuditRecorder, Subject, subjects_of
from gateway.settings import GatewaySettings
from services.identity.audit import BulkRule

# Student routes that show no personal data of the student (the class's timetable).
NOT_PERSONAL = {("GET", "/api/v1/students/<student_id>/timetable")}


def test_every_route_about_a_student_is_audited():
    app = create_app(GatewaySettings())
    routes = {(method, rule.rule) for rule in app.url_map.iter_rules() for method in rule.methods - {"HEAD", "OPTIONS"}}
    about_students = {(m, r) for m, r in routes if "<student_id>" in r}
    assert about_students - NOT_PERSONAL <= set(AUDITED), sorted(about_students - NOT_PERSONAL - set(AUDITED))
    assert set(AUDITED) <= routes, f"audited routes the gateway does not serve: {sorted(set(AUDITED) - routes)}"


@pytest.mark.parametrize(
    ("view_args", "body", "answer", "expected"),
    [
        ({"student_id": "s1"}, None, None, [Subject("student", "s1")]),
        ({}, {"student_id": "s2", "value": "5"}, None, [Subject("student", "s2")]),
        ({}, {"subject_id": "m", "grades": [{"student_id": "a"}, {"student_id": "b"}, {"student_id": "a"}]}, {"grades": [{"student_id": "a"}]},
         [Subject("student", "a"), Subject("student", "b"), Subject("student", "a")]),  # each grade of a batch counts
        ({"lesson_id": "l"}, None, {"entries": [{"student_id": "a"}, {"student_id": "b"}]}, [Subject("student", "a"), Subject("student", "b")]),
        ({"student_id": "s1"}, {"student_id": "s1"}, None, [Subject("student", "s1")]),
        ({"lesson_id": "l"}, {"entries": [{"student_id": "c", "status": "absent"}]}, None, [Subject("student", "c")]),
        ({"grade_id": "g"}, {"value": "4"}, {"id": "g", "student_id": "s3"}, [Subject("student", "s3")]),
        ({"grade_id": "g"}, None, None, [Subject("grade", "g")]),
        ({"lesson_id": "l"}, None, {"entries": []}, [Subject("lesson", "l")]),
        ({"class_id": "k"}, None, None, [Subject("class", "k")]),
        ({}, ["not", "a", "dict"], None, []),
    ],
)
def test_whose_data_a_request_touched(view_args, body, answer, expected):
    assert subjects_of(view_args, body, answer) == expected


def entry(n: int) -> pb.AuditEntry:
    return pb.AuditEntry(id=f"id-{n}", subject_kind="student", subject_id=f"s{n}")


def test_the_recorder_sends_in_batches_and_keeps_entries_identity_did_not_take():
    sent: list[list[str]] = []
    failing = {"on": True}

    def send(entries):
        if failing["on"]:
            raise RuntimeError("identity away")
        sent.append([e.id for e in entries])

    recorder = AuditRecorder(send, interval=3600, batch=2)
    recorder.add([entry(n) for n in range(5)])
    with pytest.raises(RuntimeError):
        recorder.flush()
    failing["on"] = False
    recorder.flush()
    assert sent == [["id-0", "id-1"], ["id-2", "id-3"], ["id-4"]]  # nothing lost, nothing twice
    recorder.flush()
    assert len(sent) == 3


def test_a_full_buffer_drops_visibly_instead_of_blocking_the_request():
    recorder = AuditRecorder(lambda entries: None, interval=3600, capacity=2)
    before = AUDIT_DROPPED._value.get()
    recorder.add([entry(n) for n in range(3)])
    assert AUDIT_DROPPED._value.get() == before + 1


@pytest.mark.parametrize(("before", "after", "alarm"), [(0, 200, False), (199, 201, True), (200, 201, True), (201, 260, False), (150, 400, True)])
def test_the_bulk_alarm_sounds_once_when_the_threshold_is_crossed(before, after, alarm):
    assert BulkRule(threshold=200, window=timedelta(minutes=10)).crossed(before, after) is alarm
