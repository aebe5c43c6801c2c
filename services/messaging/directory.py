"""Who may write to whom, and which classes concern whom (domain rules over identity's school
directory; no framework imports)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Person:
    id: str
    first_name: str
    last_name: str
    roles: frozenset[str]
    class_id: str = ""

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class SchoolClass:
    id: str
    name: str
    homeroom_teacher_id: str


@dataclass
class SchoolDirectory:
    """identity's view of one school: people, classes, parent–child links and teaching."""

    school_id: str
    people: dict[str, Person]
    classes: dict[str, SchoolClass]
    links: list[tuple[str, str]]  # (parent, student)
    teaching: list[tuple[str, str, str]]  # (teacher, class, subject)
    subject_names: dict[str, str] = field(default_factory=dict)

    def children(self, parent_id: str) -> list[str]:
        return [s for p, s in self.links if p == parent_id]

    def parents(self, student_id: str) -> list[str]:
        return [p for p, s in self.links if s == student_id]

    def students_of(self, class_id: str) -> list[str]:
        return [p.id for p in self.people.values() if "student" in p.roles and p.class_id == class_id]

    def teachers_of(self, class_id: str) -> dict[str, list[str]]:
        """teacher id → subject ids they teach in the class (the homeroom teacher with none)."""
        result: dict[str, list[str]] = {}
        klass = self.classes.get(class_id)
        if klass and klass.homeroom_teacher_id:
            result[klass.homeroom_teacher_id] = []
        for teacher, klass_id, subject in self.teaching:
            if klass_id == class_id:
                result.setdefault(teacher, []).append(subject)
        return result

    def classes_of(self, user_id: str) -> set[str]:
        """The classes that concern a user: a student's own, a parent's children's, a teacher's."""
        person = self.people.get(user_id)
        if person is None:
            return set()
        classes: set[str] = set()
        if "student" in person.roles and person.class_id:
            classes.add(person.class_id)
        for child in self.children(user_id):
            if self.people.get(child) and self.people[child].class_id:
                classes.add(self.people[child].class_id)
        if "teacher" in person.roles:
            classes |= {c for t, c, _ in self.teaching if t == user_id}
            classes |= {k.id for k in self.classes.values() if k.homeroom_teacher_id == user_id}
        return classes

    def staff(self) -> list[Person]:
        return [p for p in self.people.values() if p.roles & {"teacher", "principal", "school_admin"}]


@dataclass(frozen=True)
class Recipient:
    id: str  # a person, or a group "class:<id>:parents" / "class:<id>:students"
    name: str
    kind: str
    detail: str = ""


def _role_kind(person: Person) -> str:
    for role in ("school_admin", "principal", "teacher", "parent", "student"):
        if role in person.roles:
            return role
    return "user"


def allowed_recipients(directory: SchoolDirectory, sender_id: str) -> list[Recipient]:
    """Exactly who `sender_id` may write to:
    a parent — the teachers of their children's classes, the homeroom teachers, the principal, the secretary;
    a student — their teachers;
    a teacher — the students and parents of their classes (also as groups) and all staff;
    the secretary and principal — everyone in the school, and any class's students or parents as a group."""
    sender = directory.people.get(sender_id)
    if sender is None:
        return []
    found: dict[str, Recipient] = {}

    def add(person_id: str, detail: str, kind: str | None = None) -> None:
        person = directory.people.get(person_id)
        if person is None or person_id == sender_id:
            return
        if person_id in found:
            detail = f"{found[person_id].detail}; {detail}" if detail and detail not in found[person_id].detail else found[person_id].detail
        found[person_id] = Recipient(person_id, person.name, kind or _role_kind(person), detail)

    def add_class_teachers(class_id: str) -> None:
        klass = directory.classes.get(class_id)
        for teacher, subjects in directory.teachers_of(class_id).items():
            names = ", ".join(directory.subject_names.get(s, "przedmiot") for s in subjects)
            if klass and teacher == klass.homeroom_teacher_id:
                add(teacher, f"wychowawca {klass.name}", "homeroom_teacher")
            if subjects:
                add(teacher, f"{names}, {klass.name if klass else ''}".strip(", "))

    def add_class_people(class_id: str) -> None:
        klass = directory.classes.get(class_id)
        label = klass.name if klass else ""
        for student in directory.students_of(class_id):
            add(student, f"uczeń {label}")
            for parent in directory.parents(student):
                add(parent, f"rodzic: {directory.people[student].name} ({label})")
        found[f"class:{class_id}:parents"] = Recipient(f"class:{class_id}:parents", f"Rodzice klasy {label}", "group")
        found[f"class:{class_id}:students"] = Recipient(f"class:{class_id}:students", f"Uczniowie klasy {label}", "group")

    roles = sender.roles
    if roles & {"school_admin", "principal"}:
        for person in directory.people.values():
            add(person.id, "")
        for class_id in directory.classes:
            add_class_people(class_id)
    if "teacher" in roles:
        for class_id in directory.classes_of(sender_id):
            add_class_people(class_id)
        for person in directory.staff():
            add(person.id, "")
    if "parent" in roles:
        for child in directory.children(sender_id):
            if directory.people.get(child) and directory.people[child].class_id:
                add_class_teachers(directory.people[child].class_id)
        for person in directory.staff():
            if person.roles & {"principal", "school_admin"}:
                add(person.id, "dyrekcja" if "principal" in person.roles else "sekretariat")
    if "student" in roles and sender.class_id:
        add_class_teachers(sender.class_id)
    return sorted(found.values(), key=lambda r: (r.kind == "group", r.kind, r.name))


def expand(directory: SchoolDirectory, allowed: list[Recipient], wanted: list[str]) -> tuple[list[str], dict[str, str]]:
    """The people `wanted` names (groups expanded), and a problem for each id not allowed."""
    allowed_ids = {r.id for r in allowed}
    people: list[str] = []
    problems: dict[str, str] = {}
    for index, recipient_id in enumerate(wanted):
        if recipient_id not in allowed_ids:
            problems[f"recipient_ids[{index}]"] = "Do tej osoby nie możesz napisać (lub nie istnieje)."
            continue
        if recipient_id.startswith("class:"):
            _, class_id, who = recipient_id.split(":")
            students = directory.students_of(class_id)
            members = students if who == "students" else [p for s in students for p in directory.parents(s)]
            people.extend(members)
        else:
            people.append(recipient_id)
    return list(dict.fromkeys(people)), problems
