"""Who may write to whom (messaging's rule over identity's school directory)."""
from __future__ import annotations

from services.messaging.directory import Person, SchoolClass, SchoolDirectory, allowed_recipients, expand


def school() -> SchoolDirectory:
    people = [
        Person("sec", "Sara", "S", frozenset({"school_admin"})),
        Person("dyr", "Dorota", "D", frozenset({"principal"})),
        Person("ola", "Ola", "P", frozenset({"teacher"})),
        Person("igor", "Igor", "I", frozenset({"teacher"})),
        Person("ania", "Ania", "A", frozenset({"student"}), "4a"),
        Person("bart", "Bartek", "B", frozenset({"student"}), "4a"),
        Person("cez", "Cezary", "C", frozenset({"student"}), "4b"),
        Person("pa", "Rodzic", "A", frozenset({"parent"})),
        Person("pb", "Rodzic", "B", frozenset({"parent"})),
        Person("pc", "Rodzic", "C", frozenset({"parent"})),
    ]
    return SchoolDirectory(
        school_id="s",
        people={p.id: p for p in people},
        classes={"4a": SchoolClass("4a", "4A", "ola"), "4b": SchoolClass("4b", "4B", "")},
        links=[("pa", "ania"), ("pb", "bart"), ("pc", "cez")],
        teaching=[("ola", "4a", "pol"), ("igor", "4b", "inf")],
        subject_names={"pol": "Język polski", "inf": "Informatyka"},
    )


def ids(user: str) -> set[str]:
    return {r.id for r in allowed_recipients(school(), user)}


def test_a_parent_writes_to_their_childs_teachers_and_the_school_office():
    assert ids("pa") == {"ola", "sec", "dyr"}
    [ola] = [r for r in allowed_recipients(school(), "pa") if r.id == "ola"]
    assert "wychowawca 4A" in ola.detail and "Język polski" in ola.detail


def test_a_student_writes_only_to_their_teachers():
    assert ids("ania") == {"ola"}
    assert ids("cez") == {"igor"}


def test_a_teacher_writes_to_their_classes_and_to_staff_not_to_other_classes():
    allowed = ids("ola")
    assert {"ania", "bart", "pa", "pb", "igor", "sec", "dyr", "class:4a:parents", "class:4a:students"} <= allowed
    assert not allowed & {"cez", "pc", "class:4b:parents"}


def test_the_office_writes_to_everyone():
    assert {"cez", "pc", "class:4b:parents", "ola"} <= ids("sec")
    assert "sec" not in ids("sec")


def test_groups_expand_to_their_members_and_strangers_are_refused():
    directory = school()
    allowed = allowed_recipients(directory, "ola")
    people, problems = expand(directory, allowed, ["class:4a:parents", "pa", "pc"])
    assert people == ["pa", "pb"] and list(problems) == ["recipient_ids[2]"]
    people, problems = expand(directory, allowed, ["class:4a:students"])
    assert people == ["ania", "bart"] and not problems
