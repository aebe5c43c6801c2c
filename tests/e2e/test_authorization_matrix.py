"""Object-level authorization, generated from one table: every endpoint that names an object ×
every role × (the actor's own object, another family's object in the same school, an object of
another school) -> allowed or refused, and how. A parent or student never learns whether another
family's object exists (404, the same answer as for an id that does not exist), and nothing crosses
a school boundary for anyone (404).

Codes in the table, per scope (own, another family, another school):
  A  allowed (2xx)        N  404 Not Found        F  403 Forbidden
  D  refused, 403 or 404 (staff without the right to this object; existence is not secret from
     staff of the same school, so either answer is correct)
"""
from __future__ import annotations

import uuid

import pytest
from tests.system import api

pytestmark = pytest.mark.e2e

PASSWORD = "Macierz-" + uuid.uuid4().hex[:8]
ROLES = ("parent", "student", "teacher", "other_teacher", "secretary")

# (method, path, body) -> {role: "own family school"}. Path placeholders name the object kind.
MATRIX: dict[tuple[str, str, str | None], dict[str, str]] = {
    ("GET", "/students/{student}/grades", None): {"parent": "ANN", "student": "ANN", "teacher": "AAN", "other_teacher": "DDN", "secretary": "AAN"},
    ("GET", "/students/{student}/attendance", None): {"parent": "ANN", "student": "ANN", "teacher": "AAN", "other_teacher": "DDN", "secretary": "AAN"},
    ("GET", "/students/{student}/attendance/summary", None): {"parent": "ANN", "student": "ANN", "teacher": "AAN", "other_teacher": "DDN", "secretary": "AAN"},
    ("GET", "/students/{student}/timetable", None): {"parent": "ANN", "student": "ANN", "teacher": "AAN", "other_teacher": "DDN", "secretary": "AAN"},
    ("GET", "/students/{student}/meeting-report.pdf", None): {"parent": "FNN", "student": "FNN", "teacher": "AAN", "other_teacher": "DDN", "secretary": "AAN"},
    ("GET", "/grades/{grade}/history", None): {"parent": "ANN", "student": "ANN", "teacher": "AAN", "other_teacher": "DDN", "secretary": "AAN"},
    # The secretary may correct a grade (a teacher away); every correction keeps its author.
    ("PATCH", "/grades/{grade}", "grade_change"): {"parent": "FNN", "student": "FNN", "teacher": "AAN", "other_teacher": "DDN", "secretary": "AAN"},
    ("GET", "/students/{student}/export", None): {"parent": "ANN", "student": "ANN", "teacher": "FFN", "other_teacher": "FFN", "secretary": "AAN"},
    ("GET", "/billing/orders/{order}", None): {"parent": "ANN", "student": "NNN", "teacher": "DDN", "other_teacher": "DDN", "secretary": "AAN"},
    ("GET", "/billing/orders/{order}/slip.pdf", None): {"parent": "ANN", "student": "NNN", "teacher": "DDN", "other_teacher": "DDN", "secretary": "AAN"},
    ("GET", "/messages/{message}", None): {"parent": "ANN", "student": "NNN", "teacher": "AAN", "other_teacher": "NNN", "secretary": "NNN"},
    ("GET", "/support/tickets/{ticket}", None): {"parent": "ANN", "student": "NNN", "teacher": "DDN", "other_teacher": "DDN", "secretary": "AAN"},
}
SCOPES = ("own", "family", "school")


def family(system, seeder, office, school_id: str, class_id: str, subject_id: str, teacher, name: str) -> dict:
    """A student and parent with a grade, an order, a message from the teacher and a ticket."""
    student = seeder.person(office, school_id, "student", name, "Macierzowa", PASSWORD, class_id=class_id)
    parent = seeder.person(office, school_id, "parent", f"Rodzic{name}", "Macierzowy", PASSWORD, children=(student,))
    grade = api(system, "POST", "/grades", system.headers(teacher), json={"student_id": student.id, "subject_id": subject_id, "value": "4"})
    order = api(system, "POST", "/billing/orders", system.headers(parent), json={"product": "extended_access", "student_id": student.id, "channel": "bank_transfer"})
    message = api(system, "POST", "/messages", system.headers(teacher), json={"recipient_ids": [parent.id], "subject": f"O {name}", "body": "Proszę o kontakt."})
    ticket = api(system, "POST", "/support/tickets", system.headers(parent), json={"subject": "Hasło", "body": "Nie pamiętam hasła dziecka."})
    for answer in (grade, order, message, ticket):
        assert answer.status_code == 201, answer.text
    return {"student": student.id, "grade": grade.json()["id"], "order": order.json()["id"], "message": message.json()["id"], "ticket": ticket.json()["id"], "people": (parent, student)}


@pytest.fixture(scope="module")
def world(system):
    seeder = system.seeder()
    operator = seeder.sign_in(system.operator)
    schools = {}
    for label in ("A", "B"):
        school_id = seeder.school(operator, f"Szkoła macierzy {label} {uuid.uuid4().hex[:6]}", policy="statutory")
        secretary = seeder.person(operator, school_id, "school_admin", "Sekretarka", f"Macierz{label}", PASSWORD)
        office = seeder.sign_in(secretary)
        teacher = seeder.person(office, school_id, "teacher", "Wychowawca", f"Macierz{label}", PASSWORD)
        other_teacher = seeder.person(office, school_id, "teacher", "Inny", f"Nauczyciel{label}", PASSWORD)
        class_id = seeder.school_class(office, school_id, f"1{label}", "2026/2027", homeroom=teacher)
        other_class = seeder.school_class(office, school_id, f"2{label}", "2026/2027", homeroom=other_teacher)
        subject_id = seeder.subject(office, "Matematyka")
        seeder.assign(office, teacher, class_id, subject_id)
        seeder.assign(office, other_teacher, other_class, subject_id)
        schools[label] = {"id": school_id, "secretary": secretary, "office": office, "teacher": teacher, "other_teacher": other_teacher, "class_id": class_id, "subject_id": subject_id}
    a, b = schools["A"], schools["B"]
    own = family(system, seeder, a["office"], a["id"], a["class_id"], a["subject_id"], a["teacher"], "Ala")
    other = family(system, seeder, a["office"], a["id"], a["class_id"], a["subject_id"], a["teacher"], "Bartek")
    foreign = family(system, seeder, b["office"], b["id"], b["class_id"], b["subject_id"], b["teacher"], "Celina")
    parent, student = own["people"]
    actors = {"parent": parent, "student": student, "teacher": a["teacher"], "other_teacher": a["other_teacher"], "secretary": a["secretary"]}
    return {"actors": actors, "objects": {"own": own, "family": other, "school": foreign}}


BODIES = {"grade_change": {"value": "3"}}
CASES = [(key, role, scope) for key, rules in MATRIX.items() for role in ROLES for scope in SCOPES]


def test_the_table_covers_every_role_and_scope():
    assert all(set(rules) == set(ROLES) and all(len(codes) == len(SCOPES) and set(codes) <= set("ANFD") for codes in rules.values()) for rules in MATRIX.values())
    assert all(rules[role][2] == "N" for rules in MATRIX.values() for role in ROLES), "nothing crosses a school boundary"
    assert all(rules[role][1:] in ("NN",) for rules in MATRIX.values() for role in ("parent", "student")), "families never learn of each other"


@pytest.mark.parametrize(("key", "role", "scope"), CASES, ids=[f"{k[0]} {k[1]} {r} {s}" for k, r, s in CASES])
def test_authorization(system, world, key, role, scope):
    method, template, body = key
    kind = template.split("{")[1].split("}")[0]
    path = template.replace(f"{{{kind}}}", world["objects"][scope][kind])
    answer = api(system, method, path, system.headers(world["actors"][role]), json=BODIES.get(body) if body else None)
    expected = MATRIX[key][role][SCOPES.index(scope)]
    allowed = {"A": range(200, 300), "N": (404,), "F": (403,), "D": (403, 404)}[expected]
    assert answer.status_code in allowed, f"{method} {template} as {role} on {scope}'s object: {answer.status_code} {answer.text[:200]}"
    if expected in "NFD":
        assert answer.headers["Content-Type"].startswith("application/problem+json")
    if expected == "N":  # the same answer as for an object that does not exist
        missing = api(system, method, template.replace(f"{{{kind}}}", str(uuid.uuid4())), system.headers(world["actors"][role]), json=BODIES.get(body) if body else None)
        assert missing.status_code == 404 and missing.json()["code"] == answer.json()["code"]
