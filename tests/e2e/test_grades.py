"""The Grades section of the API, end to end: categories and settings, recording (one and a
class at once), corrections with history and concurrency, deletion, averages, term grades,
statistics, who may do what, and the events on the bus."""
from __future__ import annotations

import gzip
import json
import uuid

import pika
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from dziennik.gradebook.v1 import events_pb2
from tests.conftest import wait_for
from tests.system import api

pytestmark = pytest.mark.e2e

PASSWORD = "Szkolne-haslo-" + uuid.uuid4().hex[:6]


@pytest.fixture(scope="module")
def observer(system):
    """A queue that sees every gradebook event from now on."""
    connection = pika.BlockingConnection(pika.URLParameters(system.env["AMQP_URL"]))
    channel = connection.channel()
    queue = f"test.gradebook-observer.{uuid.uuid4().hex[:6]}"
    channel.queue_declare(queue, durable=False, exclusive=True)
    channel.queue_bind(queue, "dziennik.events", routing_key="gradebook.#")
    yield channel, queue
    connection.close()


def events(observer) -> list[tuple[str, bytes]]:
    channel, queue = observer
    seen = []
    while True:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            return seen
        seen.append((properties.type, body))


def pages_changed(observer) -> list[events_pb2.PagesChanged]:
    return [events_pb2.PagesChanged.FromString(body) for kind, body in events(observer) if kind == "gradebook.pages_changed.v1"]


@pytest.fixture(scope="module")
def klass(system, observer):
    """Class 2A of a statutory school: a maths teacher, a physics teacher, three students with a
    parent each, maths categories."""
    seeder = system.seeder()
    operator = seeder.sign_in(system.operator)
    school_id = seeder.school(operator, f"Liceum {uuid.uuid4().hex[:6]}", policy="statutory")
    secretary = seeder.person(operator, school_id, "school_admin", "Sylwia", "Sekretarz", PASSWORD)
    office = seeder.sign_in(secretary)
    maths_teacher = seeder.person(office, school_id, "teacher", "Marta", "Matematyk", PASSWORD)
    physics_teacher = seeder.person(office, school_id, "teacher", "Filip", "Fizyk", PASSWORD)
    principal = seeder.person(office, school_id, "principal", "Paulina", "Dyrektor", PASSWORD)
    outsider = seeder.person(office, school_id, "teacher", "Olga", "Obca", PASSWORD)  # teaches no class
    class_id = seeder.school_class(office, school_id, "2A", "2026/2027", homeroom=physics_teacher)
    students, parents = [], []
    for first in ("Ala", "Bartek", "Celina"):
        student = seeder.person(office, school_id, "student", first, "Uczniowska", PASSWORD, class_id=class_id)
        parents.append(seeder.person(office, school_id, "parent", f"Rodzic{first}", "Uczniowski", PASSWORD, children=(student,)))
        students.append(student)
    maths, physics = seeder.subject(office, "Matematyka"), seeder.subject(office, "Fizyka")
    seeder.assign(office, maths_teacher, class_id, maths)
    seeder.assign(office, physics_teacher, class_id, physics)
    admin = system.headers(secretary)
    categories = {}
    for name, weight, counts in (("sprawdzian", 3, True), ("kartkówka", 2, True), ("aktywność", 1, False)):
        answer = api(system, "POST", "/grade-categories", admin, json={"name": name, "weight": weight, "counts_to_average": counts})
        assert answer.status_code == 201, answer.text
        categories[name] = answer.json()["id"]
    return {
        "class_id": class_id, "maths": maths, "physics": physics, "students": students, "categories": categories,
        "parents": [system.headers(p) for p in parents],
        "admin": admin, "teacher": system.headers(maths_teacher), "physics_teacher": system.headers(physics_teacher),
        "principal": system.headers(principal), "outsider": system.headers(outsider),
        "student_headers": [system.headers(s) for s in students],
    }


def test_categories_and_settings_are_the_schools(system, klass):
    listed = api(system, "GET", "/grade-categories", klass["teacher"]).json()
    assert {(c["name"], c["weight"], c["counts_to_average"]) for c in listed} == {("sprawdzian", 3, True), ("kartkówka", 2, True), ("aktywność", 1, False)}
    bad = api(system, "POST", "/grade-categories", klass["admin"], json={"name": "x", "weight": 11, "counts_to_average": True})
    assert bad.status_code == 400 and "weight" in bad.json()["errors"]
    assert api(system, "POST", "/grade-categories", klass["teacher"], json={"name": "y", "weight": 1, "counts_to_average": True}).status_code == 403
    settings = api(system, "GET", "/grade-settings", klass["teacher"]).json()
    assert settings["plus"] == "0.50" or settings["plus"] == "0.5"
    assert {t["grade"] for t in settings["thresholds"]} == {"1", "2", "3", "4", "5", "6"}


def test_a_class_test_is_recorded_all_or_nothing_and_averaged_by_weight(system, klass, observer):
    ala, bartek, celina = klass["students"]
    batch = {
        "subject_id": klass["maths"], "category_id": klass["categories"]["sprawdzian"], "date": "2026-11-20",
        "grades": [{"student_id": ala.id, "value": "5"}, {"student_id": bartek.id, "value": "7"}, {"student_id": celina.id, "value": "3-"}],
    }
    refused = api(system, "POST", "/grades/batch", klass["teacher"], json=batch)
    assert refused.status_code == 400 and "grades[1].value" in refused.json()["errors"]
    assert api(system, "GET", f"/students/{ala.id}/grades", klass["teacher"]).json()["subjects"] == []  # nothing was recorded

    batch["grades"][1]["value"] = "4+"
    recorded = api(system, "POST", "/grades/batch", klass["teacher"], json=batch)
    assert recorded.status_code == 201, recorded.text
    assert [g["value"] for g in recorded.json()["items"]] == ["5", "4+", "3-"]
    # Ala also gets a kartkówka 4 and an activity "+" (a mark, in a category that does not count).
    for value, category in (("4", "kartkówka"), ("+", "aktywność")):
        answer = api(system, "POST", "/grades", klass["teacher"], json={"student_id": ala.id, "subject_id": klass["maths"], "category_id": klass["categories"][category], "value": value, "date": "2026-11-27"})
        assert answer.status_code == 201, answer.text

    report = api(system, "GET", f"/students/{ala.id}/grades", klass["parents"][0]).json()
    [maths] = report["subjects"]
    assert [(g["value"], g["category"], g["weight"]) for g in maths["grades"]] == [("5", "sprawdzian", 3), ("4", "kartkówka", 2), ("+", "aktywność", 1)]
    assert maths["averages"] == {"semester_1": 4.6, "semester_2": None, "year": 4.6}  # (5·3 + 4·2) / 5
    assert maths["average"] == 4.6 and report["overall_average"] == 4.6
    assert maths["suggested_semester_grade"] == "5"

    seen: list[tuple[str, bytes]] = []
    def recorded_here():  # other tests (and the demo loader) grade in other schools meanwhile
        seen.extend(events(observer))
        found = [events_pb2.GradeRecorded.FromString(body) for kind, body in seen if kind == "gradebook.grade_recorded.v1"]
        return [e for e in found if e.context.class_id == klass["class_id"]]

    wait_for(lambda: len(recorded_here()) >= 5, timeout=15, message="five GradeRecorded events")
    recorded_events = recorded_here()
    assert len(recorded_events) == 5
    first = next(e for e in recorded_events if e.student_id == ala.id and e.value == "5")
    assert (first.context.student_first_name, first.subject_name, first.category_name, first.weight) == ("Ala", "Matematyka", "sprawdzian", 3)
    assert first.context.teacher_name == "Marta Matematyk" and first.context.class_id == klass["class_id"]


def test_a_correction_is_kept_in_history_and_a_stale_edit_gets_409(system, klass, observer):
    bartek = klass["students"][1]
    grade = api(system, "POST", "/grades", klass["teacher"], json={"student_id": bartek.id, "subject_id": klass["maths"], "value": "2", "comment": "odpowiedź"}).json()
    assert grade["version"] == 1
    changed = api(system, "PATCH", f"/grades/{grade['id']}", {**klass["teacher"], "If-Match": '"1"'}, json={"value": "3"})
    assert changed.status_code == 200 and changed.json()["value"] == "3" and changed.json()["version"] == 2
    stale = api(system, "PATCH", f"/grades/{grade['id']}", klass["admin"], json={"value": "1", "version": 1})
    assert stale.status_code == 409 and stale.json()["code"] == "conflict"
    corrected = api(system, "PATCH", f"/grades/{grade['id']}", klass["admin"], json={"comment": "poprawiona przez sekretariat", "version": 2})
    assert corrected.status_code == 200

    history = api(system, "GET", f"/grades/{grade['id']}/history", klass["parents"][1]).json()["items"]
    assert [h["action"] for h in history] == ["recorded", "changed", "changed"]
    assert history[1]["old"] == {"value": "2"} and history[1]["new"] == {"value": "3"}
    assert history[2]["new"] == {"comment": "poprawiona przez sekretariat"}
    assert history[1]["actor_id"] != history[2]["actor_id"]  # the teacher, then the secretary

    assert api(system, "DELETE", f"/grades/{grade['id']}", klass["teacher"]).status_code == 204
    report = api(system, "GET", f"/students/{bartek.id}/grades", klass["teacher"]).json()
    assert all(g["id"] != grade["id"] for s in report["subjects"] for g in s["grades"])
    history = api(system, "GET", f"/grades/{grade['id']}/history", klass["teacher"]).json()["items"]
    assert history[-1]["action"] == "deleted" and history[-1]["old"]["value"] == "3"
    assert api(system, "PATCH", f"/grades/{grade['id']}", klass["teacher"], json={"value": "4"}).status_code == 404

    seen = {}
    def collect():
        for kind, body in events(observer):
            seen.setdefault(kind, []).append(body)
        return any(events_pb2.GradeDeleted.FromString(b).grade_id == grade["id"] for b in seen.get("gradebook.grade_deleted.v1", []))
    wait_for(collect, timeout=15, message="GradeDeleted on the bus")
    changes = [c for c in map(events_pb2.GradeChanged.FromString, seen["gradebook.grade_changed.v1"]) if c.grade_id == grade["id"]]
    assert [(c.old_value, c.new_value) for c in changes][:1] == [("2", "3")]
    assert changes[0].context.student_first_name == "Bartek" and changes[0].context.subject_name == "Matematyka"
    [deleted] = [d for d in map(events_pb2.GradeDeleted.FromString, seen["gradebook.grade_deleted.v1"]) if d.grade_id == grade["id"]]
    assert deleted.value == "3" and deleted.deleted_by


def test_two_teachers_grading_one_class_keep_each_others_work(system, klass):
    ala = klass["students"][0]
    maths = api(system, "POST", "/grades", klass["teacher"], json={"student_id": ala.id, "subject_id": klass["maths"], "value": "6"}).json()
    physics = api(system, "POST", "/grades", klass["physics_teacher"], json={"student_id": ala.id, "subject_id": klass["physics"], "value": "5"}).json()
    assert api(system, "PATCH", f"/grades/{maths['id']}", klass["teacher"], json={"comment": "a", "version": 1}).status_code == 200
    assert api(system, "PATCH", f"/grades/{physics['id']}", klass["physics_teacher"], json={"comment": "b", "version": 1}).status_code == 200
    report = api(system, "GET", f"/students/{ala.id}/grades", klass["teacher"]).json()
    comments = {g["id"]: g["comment"] for s in report["subjects"] for g in s["grades"]}
    assert comments[maths["id"]] == "a" and comments[physics["id"]] == "b"


def test_an_app_that_keeps_the_page_gets_304_until_a_grade_on_it_changes(system, klass, observer):
    """The page carries an ETag; sent back as If-None-Match it gets 304 with no body while
    nothing on the page changed, and the new page as soon as a grade did."""
    celina, parent = klass["students"][2], klass["parents"][2]
    first = api(system, "GET", f"/students/{celina.id}/grades", parent)
    assert first.status_code == 200 and first.headers["ETag"].startswith('"')
    again = api(system, "GET", f"/students/{celina.id}/grades", {**parent, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == first.headers["ETag"]
    grade = api(system, "POST", "/grades", klass["teacher"], json={"student_id": celina.id, "subject_id": klass["maths"], "value": "2", "comment": "nowa"}).json()
    # within moments: the gateway workers' copies of the page go when gradebook's PagesChanged
    # reaches them, as it reaches this observer
    wait_for(lambda: any(celina.id in change.student_ids for change in pages_changed(observer)), timeout=5, message="PagesChanged")
    changed = api(system, "GET", f"/students/{celina.id}/grades", {**parent, "If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and changed.headers["ETag"] != first.headers["ETag"]
    assert grade in [g for s in changed.json()["subjects"] for g in s["grades"]]  # exactly as POST answered it
    other = api(system, "GET", f"/students/{celina.id}/grades", {**parent, "If-None-Match": '"1.0.0.1999/2000", *'})
    assert other.status_code == 200 and other.json() == changed.json()


def test_the_page_goes_gzip_compressed_to_clients_that_accept_it_and_as_json_to_others(system, klass):
    """What gradebook stored is sent as is with Content-Encoding: gzip (a tenth of a full year's
    page; less on this small one);
    a client that does not take gzip gets the same JSON; each representation has its own ETag
    and either one, sent back, gets 304 in both."""
    celina, parent = klass["students"][2], klass["parents"][2]
    url = f"{system.url}/api/v1/students/{celina.id}/grades"
    packed = requests.get(url, headers={**parent, "Accept-Encoding": "gzip"}, timeout=15, stream=True)
    wire = packed.raw.read(decode_content=False)
    plain = requests.get(url, headers={**parent, "Accept-Encoding": "identity"}, timeout=15)
    assert packed.status_code == plain.status_code == 200
    assert packed.headers["Content-Encoding"] == "gzip" and "Content-Encoding" not in plain.headers
    assert packed.headers["Vary"] == plain.headers["Vary"] == "Accept-Encoding"
    assert json.loads(gzip.decompress(wire)) == plain.json() and len(wire) < len(plain.content)
    assert packed.headers["ETag"] == plain.headers["ETag"][:-1] + '+gzip"'
    for tag in (packed.headers["ETag"], plain.headers["ETag"]):
        for accepted in ("gzip", "identity"):
            again = requests.get(url, headers={**parent, "Accept-Encoding": accepted, "If-None-Match": tag}, timeout=15)
            assert again.status_code == 304 and again.headers["ETag"] == (packed if accepted == "gzip" else plain).headers["ETag"]


def test_the_family_reads_a_workers_copy_of_the_page_and_every_change_reaches_it_within_moments(system, klass):
    """gateway/page_copies.py: each gateway worker keeps the page it served to the student or a
    parent, while it follows gradebook's PagesChanged; a grade, a correction, a deletion and the
    school's rules reach every worker's copy within moments. Staff are never answered from a copy:
    a teacher of no class of hers is refused even while her parents' copies are kept."""
    celina, parent, own = klass["students"][2], klass["parents"][2], klass["student_headers"][2]
    path = f"/students/{celina.id}/grades"

    def grade_values() -> list[list[str]]:  # several reads: the system runs more than one gateway worker
        pages = [api(system, "GET", path, who) for who in (parent, own) * 3]
        assert all(page.status_code == 200 for page in pages)
        return [[g["value"] for s in page.json()["subjects"] if s["subject_id"] == klass["maths"] for g in s["grades"]] for page in pages]

    def copies_used() -> float:  # summed over the gateway's workers
        metrics = requests.get(f"{system.url}/metrics", timeout=10).text
        return sum(
            s.value for family in text_string_to_metric_families(metrics) for s in family.samples
            if s.name == "cache_lookups_total" and s.labels == {"cache": "gateway_pages", "outcome": "hit"}
        )

    before = grade_values()[0]
    used = copies_used()
    assert grade_values()[0] == before
    assert copies_used() - used >= 4  # of 6 reads: at most one per worker made its copy
    assert api(system, "GET", path, klass["outsider"]).status_code == 404
    grade = api(system, "POST", "/grades", klass["teacher"], json={"student_id": celina.id, "subject_id": klass["maths"], "value": "6", "comment": "kopia"}).json()
    wait_for(lambda: all(values == before + ["6"] for values in grade_values()), timeout=5, message="the new grade in every copy")
    corrected = api(system, "PATCH", f"/grades/{grade['id']}", klass["teacher"], json={"value": "5", "version": grade["version"]})
    assert corrected.status_code == 200, corrected.text
    wait_for(lambda: all(values == before + ["5"] for values in grade_values()), timeout=5, message="the correction in every copy")
    assert api(system, "DELETE", f"/grades/{grade['id']}", klass["teacher"]).status_code == 204
    wait_for(lambda: all(values == before for values in grade_values()), timeout=5, message="the deletion in every copy")
    assert api(system, "GET", path, klass["outsider"]).status_code == 404

    def maths_average() -> float:
        [maths] = [s for s in api(system, "GET", path, parent).json()["subjects"] if s["subject_id"] == klass["maths"]]
        return maths["averages"]["semester_1"]

    minus_grade = api(system, "POST", "/grades", klass["teacher"], json={"student_id": celina.id, "subject_id": klass["maths"], "value": "3-"}).json()
    wait_for(lambda: all(values == before + ["3-"] for values in grade_values()), timeout=5, message="the 3- in every copy")
    settings = api(system, "GET", "/grade-settings", klass["admin"]).json()
    average = maths_average()  # the 3- counts 3 less the school's minus
    minus = "0.75" if float(settings["minus"]) < 0.75 else "0.25"
    assert api(system, "PUT", "/grade-settings", klass["admin"], json={**settings, "minus": minus}).status_code == 200
    try:
        wait_for(lambda: all(maths_average() != average for _ in range(4)), timeout=5, message="the school's rules in every copy")
    finally:
        assert api(system, "PUT", "/grade-settings", klass["admin"], json=settings).status_code == 200
        assert api(system, "DELETE", f"/grades/{minus_grade['id']}", klass["teacher"]).status_code == 204


def test_only_the_subjects_teacher_writes_and_readers_are_limited(system, klass):
    ala, bartek, _ = klass["students"]
    # The physics teacher (homeroom teacher of 2A) reads maths grades but does not give them.
    wrong_subject = api(system, "POST", "/grades", klass["physics_teacher"], json={"student_id": ala.id, "subject_id": klass["maths"], "value": "1"})
    assert wrong_subject.status_code == 403
    assert api(system, "GET", f"/students/{ala.id}/grades", klass["physics_teacher"]).status_code == 200
    assert api(system, "GET", f"/students/{ala.id}/grades", klass["principal"]).status_code == 200
    # A parent reads their own child only, and writes nothing.
    assert api(system, "GET", f"/students/{bartek.id}/grades", klass["parents"][0]).status_code == 404
    assert api(system, "POST", "/grades", klass["parents"][0], json={"student_id": ala.id, "subject_id": klass["maths"], "value": "6"}).status_code == 403
    grade = api(system, "POST", "/grades", klass["teacher"], json={"student_id": ala.id, "subject_id": klass["maths"], "value": "np"}).json()
    assert api(system, "DELETE", f"/grades/{grade['id']}", klass["parents"][0]).status_code == 403
    assert api(system, "DELETE", f"/grades/{grade['id']}", klass["physics_teacher"]).status_code == 403
    future = api(system, "POST", "/grades", klass["teacher"], json={"student_id": ala.id, "subject_id": klass["maths"], "value": "5", "date": "2099-01-01"})
    assert future.status_code == 400 and "date" in future.json()["errors"]


def test_term_grades_follow_the_thresholds_but_the_teacher_decides(system, klass, observer):
    celina = klass["students"][2]
    proposed = api(system, "PUT", f"/students/{celina.id}/term-grades/{klass['maths']}", klass["teacher"], json={"kind": "semester_proposed", "value": "3"})
    assert proposed.status_code == 200, proposed.text
    assert proposed.json()["value"] == "3" and proposed.json()["suggested"] == "3"  # her only grade is 3- (2.75)
    final = api(system, "PUT", f"/students/{celina.id}/term-grades/{klass['maths']}", klass["teacher"], json={"kind": "semester_final", "value": "4"})
    assert final.status_code == 200
    bad = api(system, "PUT", f"/students/{celina.id}/term-grades/{klass['maths']}", klass["teacher"], json={"kind": "semester_final", "value": "4+"})
    assert bad.status_code == 400 and "value" in bad.json()["errors"]
    not_theirs = api(system, "PUT", f"/students/{celina.id}/term-grades/{klass['maths']}", klass["physics_teacher"], json={"kind": "semester_final", "value": "1"})
    assert not_theirs.status_code == 403
    def term_grades() -> dict:  # the parent's page may be a worker's copy until PagesChanged arrives
        [maths] = [s for s in api(system, "GET", f"/students/{celina.id}/grades", klass["parents"][2]).json()["subjects"] if s["subject_id"] == klass["maths"]]
        return maths["term_grades"]

    wait_for(lambda: term_grades()["semester_final"] == "4", timeout=5, message="the term grade on the parent's page")
    assert term_grades() == {"semester_proposed": "3", "semester_final": "4", "annual_proposed": None, "annual_final": None}
    seen: list[tuple[str, bytes]] = []

    def term_events() -> set[tuple[str, str]]:
        seen.extend(events(observer))
        found = (events_pb2.TermGradeSet.FromString(b) for k, b in seen if k == "gradebook.term_grade_set.v1")
        return {(t.kind, t.value) for t in found if t.context.student_id == celina.id}

    wait_for(lambda: term_events() >= {("semester_proposed", "3"), ("semester_final", "4")}, timeout=15, message="TermGradeSet events")


def test_class_statistics_for_teachers_and_the_principal(system, klass):
    stats = api(system, "GET", f"/classes/{klass['class_id']}/grade-statistics", klass["principal"], params={"subject_id": klass["maths"]})
    assert stats.status_code == 200, stats.text
    body = stats.json()
    assert body["student_count"] == 3 and body["grade_count"] >= 5
    assert body["distribution"]["5"] >= 1 and body["distribution"]["+"] == 1
    assert isinstance(body["average"], float)
    assert api(system, "GET", f"/classes/{klass['class_id']}/grade-statistics", klass["parents"][0], params={"subject_id": klass["maths"]}).status_code == 404
    missing = api(system, "GET", f"/classes/{klass['class_id']}/grade-statistics", klass["principal"])
    assert missing.status_code == 400 and "subject_id" in missing.json()["errors"]


def test_school_settings_decide_modifiers_and_improvements_and_points_never_count(system, klass):
    # A fresh student of 2A so earlier tests' grades do not mix in.
    seeder = system.seeder()
    school_id = api(system, "GET", "/me", klass["admin"]).json()["school_id"]
    office = seeder.sign_in(system.operator)
    dawid = seeder.person(office, school_id, "student", "Dawid", "Nowy", PASSWORD, class_id=klass["class_id"])
    test = klass["categories"]["sprawdzian"]

    def record(**body):
        answer = api(system, "POST", "/grades", klass["teacher"], json={"student_id": dawid.id, "subject_id": klass["maths"], "category_id": test, "date": "2026-10-01", **body})
        assert answer.status_code == 201, answer.text
        return answer.json()

    failed = record(value="1")
    record(value="4+")
    improvement = record(value="4", improves_grade_id=failed["id"])
    assert improvement["improves_grade_id"] == failed["id"]
    points = record(points="17", max_points="20")
    assert points["value"] == "17/20" and points["counts_to_average"] is False

    def year_average() -> float:
        [maths] = [s for s in api(system, "GET", f"/students/{dawid.id}/grades", klass["teacher"]).json()["subjects"] if s["subject_id"] == klass["maths"]]
        return maths["averages"]["year"]

    assert year_average() == 4.25  # (4.5 + 4) / 2: the improved 1 and the points drop out

    settings = api(system, "GET", "/grade-settings", klass["admin"]).json()
    vulcan = {**settings, "plus": "0.33", "minus": "0.33", "improved_original_counts": True}
    assert api(system, "PUT", "/grade-settings", klass["teacher"], json=vulcan).status_code == 403
    changed = api(system, "PUT", "/grade-settings", klass["admin"], json=vulcan)
    assert changed.status_code == 200 and changed.json()["plus"] == "0.33"
    try:
        assert year_average() == 3.11  # (1 + 4.33 + 4) / 3
        broken = {**vulcan, "thresholds": vulcan["thresholds"][:5] + [{"lowest_average": "0", "grade": "5"}]}
        refused = api(system, "PUT", "/grade-settings", klass["admin"], json=broken)
        assert refused.status_code == 400 and "thresholds" in refused.json()["errors"]
    finally:
        api(system, "PUT", "/grade-settings", klass["admin"], json=settings)
    assert year_average() == 4.25
    wrong = api(system, "POST", "/grades", klass["teacher"], json={"student_id": dawid.id, "subject_id": klass["maths"], "value": "5", "improves_grade_id": str(uuid.uuid4())})
    assert wrong.status_code == 400 and "improves_grade_id" in wrong.json()["errors"]
