"""A school year of data, reproducible from a seed, and loading it into a running system.

`generate(size, seed, school_ids)` plans every row: staff, classes, students and their parents
(siblings share a parent), teaching assignments, extended access and the SMS add-on for some
families, refresh-token sessions, grades (each subject, each semester), term grades, a weekly
timetable and a lesson with attendance marks for every slot of every school week.

`load(dataset, databases)` writes those rows with PostgreSQL COPY straight into each service's
own database, after the services created their schemas. Why not through gRPC: a year of one
school is about 180,000 grades and a million attendance marks; through RecordGrades each grade
would also go through the outbox, the broker and notify, so the system would still be chewing on
last winter's grades while the benchmark measures it, and every account would cost an argon2id
hash and a zxcvbn check on activation. Schools themselves are created through identity's gRPC
CreateSchool (their access-policy preset is identity's business); everything else is rows.
Every account shares one argon2id hash made with identity's own parameters, so a login costs
exactly what a real one does.
"""
from __future__ import annotations

import hashlib
import random
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from psycopg.types.json import Json

PASSWORD = "Benchmark-dziennik-2026"
SUBJECTS = [
    # name, short name, lessons a week
    ("Język polski", "pol", 5),
    ("Matematyka", "mat", 4),
    ("Język angielski", "ang", 3),
    ("Historia", "his", 2),
    ("Biologia", "bio", 2),
    ("Chemia", "che", 2),
    ("Fizyka", "fiz", 2),
    ("Geografia", "geo", 2),
    ("Informatyka", "inf", 1),
    ("Wychowanie fizyczne", "wf", 4),
    ("Muzyka", "muz", 1),
    ("Plastyka", "pla", 2),
]
CATEGORIES = [("sprawdzian", 3, True), ("kartkówka", 2, True), ("odpowiedź ustna", 1, True), ("praca domowa", 1, True), ("aktywność", 1, False)]
CATEGORY_SHARE = [0.2, 0.3, 0.15, 0.25, 0.1]
GRADE_VALUES = ["1", "2-", "2", "2+", "3-", "3", "3+", "4-", "4", "4+", "5-", "5", "5+", "6"]
GRADE_SHARE = [2, 3, 5, 3, 5, 10, 6, 7, 13, 8, 7, 14, 6, 5]
MARKS = ["present", "absent", "late", "excused"]
MARK_SHARE = [90, 6, 2, 2]
FIRST_NAMES = ["Zofia", "Hanna", "Julia", "Maja", "Zuzanna", "Lena", "Alicja", "Oliwia", "Laura", "Maria", "Antoni", "Jan", "Aleksander",
               "Franciszek", "Nikodem", "Jakub", "Stanisław", "Szymon", "Filip", "Leon", "Łucja", "Wiktoria", "Igor", "Mikołaj"]
LAST_NAMES = ["Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamiński", "Lewandowski", "Zieliński", "Szymański", "Woźniak",
              "Dąbrowski", "Kozłowski", "Jankowski", "Mazur", "Kwiatkowski", "Krawczyk", "Piotrowski", "Grabowski", "Nowakowski", "Pawłowski"]
SMS_EVENTS = ["grade_recorded", "grade_changed", "term_grade_set", "absence_recorded", "excuse_decided", "announcement_published"]
_POLISH = str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ")


@dataclass(frozen=True)
class Size:
    schools: int
    classes: int  # per school
    students_per_class: int
    subjects: int
    grades_per_semester: int  # per student and subject
    weeks: int  # school weeks with lessons and attendance (a school year has about 38)
    teacher_classes: int = 8  # how many classes one teacher teaches a subject in
    two_parents: float = 0.7  # families with a second parent account
    siblings: float = 0.1  # students who share a parent with a younger sibling in the school
    extended_access: float = 0.6  # families who bought extended access
    sms_alerts: float = 0.5  # families with the SMS add-on who turned SMS on
    sessions_per_parent: int = 3  # refresh-token sessions (phone, tablet, computer)


SIZES = {
    # The school: 750 students in 30 classes, 12 subjects, 10 grades per subject and semester.
    "full": Size(schools=1, classes=30, students_per_class=25, subjects=12, grades_per_semester=10, weeks=38),
    # A short smoke run: fewer classes and weeks, but each student's page is as large as in a real year.
    "quick": Size(schools=1, classes=4, students_per_class=20, subjects=12, grades_per_semester=10, weeks=4),
    # Several schools sharing one deployment.
    "scale": Size(schools=4, classes=30, students_per_class=25, subjects=12, grades_per_semester=10, weeks=38),
}


@dataclass
class Table:
    columns: tuple[str, ...]
    rows: list[tuple] = field(default_factory=list)


@dataclass(frozen=True)
class Teacher:
    id: str
    login: str
    totp_secret: str


@dataclass(frozen=True)
class Reader:
    """A parent with extended access and one of their children."""

    parent_id: str
    login: str
    student_id: str


@dataclass(frozen=True)
class SmsStudent:
    """A student whose one parent gets SMS alerts, and what that parent's SMS names."""

    student_id: str
    class_id: str
    name: str  # "Zofia Nowak", as the SMS names the child
    phone: str  # E.164


@dataclass
class Roster:
    """What the scenarios need to know about the generated people."""

    school_year: str
    subjects: dict[str, str] = field(default_factory=dict)  # id -> name
    classes: dict[str, list[str]] = field(default_factory=dict)  # id -> student ids
    teachers: dict[tuple[str, str], Teacher] = field(default_factory=dict)  # (class id, subject id) -> teacher
    readers: list[Reader] = field(default_factory=list)
    parent_logins: list[str] = field(default_factory=list)
    refresh_tokens: list[str] = field(default_factory=list)
    sms_students: list[SmsStudent] = field(default_factory=list)


@dataclass
class Dataset:
    size: Size
    seed: int
    tables: dict[str, dict[str, Table]]  # service -> table -> rows
    roster: Roster

    def counts(self) -> dict[str, int]:
        return {f"{service}.{name}": len(table.rows) for service, tables in self.tables.items() for name, table in tables.items()}


def transliterate(text: str) -> str:
    """As an SMS without Polish characters spells it."""
    return unicodedata.normalize("NFC", text).translate(_POLISH)


def school_year_of(day: date) -> str:
    start = day.year if day.month >= 9 else day.year - 1
    return f"{start}/{start + 1}"


class _Ids:
    """uuid4-shaped ids from the seeded generator, so a seed gives the same ids every time."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def __call__(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))


def generate(size: Size, seed: int, school_ids: list[str], password_hash: str, today: date | None = None, now: datetime | None = None) -> Dataset:
    """Every row of `size` for the schools `school_ids` (created beforehand through identity)."""
    if len(school_ids) != size.schools:
        raise ValueError(f"{size.schools} schools planned, {len(school_ids)} given")
    rng = random.Random(seed)
    new_id = _Ids(rng)
    today = today or date.today()
    year = school_year_of(today)
    first_day = date(int(year[:4]), 9, 1)
    now = now or datetime.now(timezone.utc)  # created_at and the like; everything else comes from the seed
    tables: dict[str, dict[str, Table]] = {
        "identity": {
            "users": Table(("id", "school_id", "login", "password_hash", "first_name", "last_name", "email", "phone", "activation_code_hash",
                            "activation_expires_at", "created_at", "totp_secret", "totp_confirmed_at", "totp_last_step")),
            "user_roles": Table(("user_id", "role")),
            "classes": Table(("id", "school_id", "name", "school_year", "homeroom_teacher_id")),
            "enrolments": Table(("student_id", "class_id", "school_year")),
            "parent_links": Table(("parent_id", "student_id")),
            "teaching_assignments": Table(("id", "teacher_id", "class_id", "subject_id")),
            "entitlements": Table(("holder_id", "student_id", "valid_until", "updated_at")),
            "add_ons": Table(("holder_id", "student_id", "product", "valid_until", "updated_at")),
            "refresh_tokens": Table(("id", "token_hash", "family_id", "user_id", "expires_at", "used_at", "amr", "revoked_at")),
        },
        "gradebook": {
            "subjects": Table(("id", "school_id", "name", "short_name")),
            "grade_categories": Table(("id", "school_id", "name", "weight", "counts_to_average")),
            "grades": Table(("id", "school_id", "student_id", "subject_id", "category_id", "value", "comment", "teacher_id", "issued_on",
                             "recorded_at", "request_id", "class_id", "school_year", "points", "max_points", "improves_grade_id", "version",
                             "updated_at", "deleted_at")),
            "term_grades": Table(("id", "school_id", "student_id", "subject_id", "school_year", "kind", "value", "teacher_id", "set_at")),
            "history": Table(("entity", "entity_id", "action", "actor_id", "at", "old", "new")),
        },
        "attendance": {
            "timetable_entries": Table(("id", "school_id", "class_id", "school_year", "weekday", "lesson_no", "subject_id", "teacher_id", "room",
                                        "valid_from", "valid_to")),
            "lessons": Table(("id", "school_id", "class_id", "subject_id", "subject_name", "teacher_id", "date", "lesson_no", "topic", "room",
                              "substitute_teacher_id", "cancelled")),
            "attendance_marks": Table(("student_id", "lesson_id", "status", "marked_by", "marked_at")),
        },
        "notify": {
            "preferences": Table(("user_id", "sms_enabled", "phone", "events", "quiet_from", "quiet_to", "updated_at")),
        },
    }
    identity, gradebook, attendance, notify = (tables[s] for s in ("identity", "gradebook", "attendance", "notify"))
    roster = Roster(school_year=year)
    serial = iter(range(1, 10**9))
    valid_until = first_day.replace(year=first_day.year + 1, month=8, day=31)

    def person(school_id: str, role: str, first: str, last: str, phone: str = "", totp: str | None = None) -> tuple[str, str]:
        user_id = new_id()
        login = f"{transliterate(first).lower()}.{transliterate(last).lower()}.{next(serial)}"
        identity["users"].rows.append(
            (user_id, school_id, login, password_hash, first, last, "", phone, None, None, now, totp, now if totp else None, None)
        )
        identity["user_roles"].rows.append((user_id, role))
        return user_id, login

    semesters = [(first_day + timedelta(days=1), date(first_day.year + 1, 1, 25)), (date(first_day.year + 1, 2, 3), date(first_day.year + 1, 6, 19))]
    phones = iter(range(10**6))
    sms_parents: set[str] = set()
    for school_id in school_ids:
        subjects = [(new_id(), name, short, hours) for name, short, hours in SUBJECTS[: size.subjects]]
        for subject_id, name, short, _ in subjects:
            gradebook["subjects"].rows.append((subject_id, school_id, name, short))
            roster.subjects[subject_id] = name
        categories = [(new_id(), *c) for c in CATEGORIES]
        for category_id, name, weight, counts in categories:
            gradebook["grade_categories"].rows.append((category_id, school_id, name, weight, counts))
        # Teachers: each teaches one subject in up to `teacher_classes` classes.
        teachers_of: dict[str, list[Teacher]] = {}
        for subject_id, name, _, _ in subjects:
            for _ in range(-(-size.classes // size.teacher_classes)):
                secret = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(32))
                teacher_id, login = person(school_id, "teacher", rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES), totp=secret)
                teachers_of.setdefault(subject_id, []).append(Teacher(teacher_id, login, secret))
        all_teachers = [t for ts in teachers_of.values() for t in ts]
        students_of: dict[str, list[tuple[str, str, str]]] = {}
        previous_family: tuple[str, str] | None = None  # (parent id, last name) a sibling may share
        for number in range(size.classes):
            class_id = new_id()
            grade_level = 1 + number * 8 // size.classes
            homeroom = all_teachers[number % len(all_teachers)]
            identity["classes"].rows.append((class_id, school_id, f"{grade_level}{'ABCDEFGH'[number % 4]}{number // 4 or ''}", year, homeroom.id))
            for index, (subject_id, _, _, _) in enumerate(subjects):
                teacher = teachers_of[subject_id][number // size.teacher_classes]
                identity["teaching_assignments"].rows.append((new_id(), teacher.id, class_id, subject_id))
                roster.teachers[(class_id, subject_id)] = teacher
            roster.classes[class_id] = []
            students_of[class_id] = []
            for _ in range(size.students_per_class):
                sibling = previous_family is not None and rng.random() < size.siblings
                last = previous_family[1] if sibling else rng.choice(LAST_NAMES)
                first = rng.choice(FIRST_NAMES)
                student_id, _ = person(school_id, "student", first, last)
                identity["enrolments"].rows.append((student_id, class_id, year))
                roster.classes[class_id].append(student_id)
                students_of[class_id].append((student_id, first, last))
                if sibling:
                    parents = [previous_family[0]]
                else:
                    phone = f"+48600{next(phones):06d}"
                    parents = [person(school_id, "parent", rng.choice(FIRST_NAMES), last, phone=phone)[0]]
                    if rng.random() < size.two_parents:
                        parents.append(person(school_id, "parent", rng.choice(FIRST_NAMES), last, phone=f"+48700{next(phones):06d}")[0])
                    previous_family = (parents[0], last)
                for parent_id in parents:
                    identity["parent_links"].rows.append((parent_id, student_id))
                main_parent = parents[0]
                main_login = next(r[2] for r in reversed(identity["users"].rows) if r[0] == main_parent)
                main_phone = next(r[7] for r in reversed(identity["users"].rows) if r[0] == main_parent)
                if rng.random() < size.extended_access:
                    for parent_id in parents:
                        identity["entitlements"].rows.append((parent_id, student_id, valid_until, now))
                    identity["entitlements"].rows.append((student_id, student_id, valid_until, now))
                    roster.readers.append(Reader(main_parent, main_login, student_id))
                if rng.random() < size.sms_alerts:
                    identity["add_ons"].rows.append((main_parent, student_id, "sms_alerts", valid_until, now))
                    roster.sms_students.append(SmsStudent(student_id, class_id, f"{first} {last}", main_phone))
                    if main_parent not in sms_parents:
                        sms_parents.add(main_parent)
                        notify["preferences"].rows.append((main_parent, True, "", Json(SMS_EVENTS), None, None, now))
                if not sibling:
                    roster.parent_logins.append(main_login)
                    for _ in range(size.sessions_per_parent):
                        secret = f"bench-{rng.getrandbits(128):032x}"
                        identity["refresh_tokens"].rows.append(
                            (new_id(), hashlib.sha256(secret.encode()).hexdigest(), new_id(), main_parent, now + timedelta(days=30), None, "pwd", None)
                        )
                        roster.refresh_tokens.append(secret)
        _grades(rng, new_id, gradebook, school_id, year, subjects, categories, students_of, roster, semesters, size)
        _attendance(rng, new_id, attendance, school_id, year, first_day, subjects, students_of, roster, size)
    rng.shuffle(roster.refresh_tokens)
    return Dataset(size, seed, tables, roster)


def _grades(rng, new_id, gradebook, school_id, year, subjects, categories, students_of, roster, semesters, size) -> None:
    category_weights = CATEGORY_SHARE
    for class_id, students in students_of.items():
        for subject_id, _, _, _ in subjects:
            teacher_id = roster.teachers[(class_id, subject_id)].id
            for semester, (start, end) in enumerate(semesters, start=1):
                span = (end - start).days
                # A class writes its tests on the same days: one date per grade "column".
                days = sorted(start + timedelta(days=rng.randrange(span)) for _ in range(size.grades_per_semester))
                columns = [(day, rng.choices(categories, category_weights)[0][0]) for day in days]
                for student_id, _, _ in students:
                    values = rng.choices(GRADE_VALUES, GRADE_SHARE, k=len(columns))
                    for (day, category_id), value in zip(columns, values):
                        grade_id = new_id()
                        at = datetime.combine(day, time(9 + rng.randrange(7), rng.randrange(60)), timezone.utc)
                        gradebook["grades"].rows.append(
                            (grade_id, school_id, student_id, subject_id, category_id, value, "", teacher_id, day, at, None, class_id, year,
                             None, None, None, 1, None, None)
                        )
                        gradebook["history"].rows.append(("grade", grade_id, "recorded", teacher_id, at, None, Json({"value": value, "comment": "", "category_id": category_id})))
                if semester == 1:
                    at = datetime.combine(end, time(12), timezone.utc)
                    for student_id, _, _ in students:
                        value = rng.choices(["2", "3", "4", "5", "6"], [1, 3, 4, 3, 1])[0]
                        for kind in ("semester_proposed", "semester_final"):
                            gradebook["term_grades"].rows.append((new_id(), school_id, student_id, subject_id, year, kind, value, teacher_id, at))


def _attendance(rng, new_id, attendance, school_id, year, first_day, subjects, students_of, roster, size) -> None:
    monday = first_day - timedelta(days=first_day.weekday()) + (timedelta(days=7) if first_day.weekday() > 0 else timedelta())
    slots_per_week = sum(hours for *_, hours in subjects)
    per_day = -(-slots_per_week // 5)
    for class_id, students in students_of.items():
        week = [subject for subject in subjects for _ in range(subject[3])]
        rng.shuffle(week)
        timetable = {}
        for slot, (subject_id, name, _, _) in enumerate(week):
            weekday, lesson_no = 1 + slot // per_day, 1 + slot % per_day
            teacher_id = roster.teachers[(class_id, subject_id)].id
            timetable[(weekday, lesson_no)] = (subject_id, name, teacher_id)
            attendance["timetable_entries"].rows.append(
                (new_id(), school_id, class_id, year, weekday, lesson_no, subject_id, teacher_id, f"{rng.randrange(1, 40)}", monday, None)
            )
        for week_number in range(size.weeks):
            for (weekday, lesson_no), (subject_id, name, teacher_id) in timetable.items():
                day = monday + timedelta(days=7 * week_number + weekday - 1)
                lesson_id = new_id()
                attendance["lessons"].rows.append((lesson_id, school_id, class_id, subject_id, name, teacher_id, day, lesson_no, "", "", None, False))
                at = datetime.combine(day, time(7 + lesson_no, 50), timezone.utc)
                statuses = rng.choices(MARKS, MARK_SHARE, k=len(students))
                for (student_id, _, _), status in zip(students, statuses):
                    attendance["attendance_marks"].rows.append((student_id, lesson_id, status, teacher_id, at))


def load(dataset: Dataset, databases: dict[str, str]) -> tuple[dict[str, float], dict[str, dict[str, int]]]:
    """COPY every table into its service's database (schemas made by the services' migrations),
    then ANALYZE them as autovacuum would; seconds per service, and each table's size on disk
    with its indexes (bytes), from which docs/capacity.md scales storage."""
    import time as clock

    import psycopg

    took = {}
    sizes: dict[str, dict[str, int]] = {}
    for service, tables in dataset.tables.items():
        began = clock.perf_counter()
        with psycopg.connect(databases[service].replace("postgresql+psycopg://", "postgresql://")) as connection:
            with connection.cursor() as cursor:
                for name, table in tables.items():
                    with cursor.copy(f"COPY {name} ({', '.join(table.columns)}) FROM STDIN") as copy:
                        for row in table.rows:
                            copy.write_row(row)
            connection.commit()
            connection.autocommit = True
            for name in tables:
                connection.execute(f"ANALYZE {name}")
                sizes.setdefault(service, {})[name] = connection.execute("SELECT pg_total_relation_size(%s)", (name,)).fetchone()[0]
        took[service] = clock.perf_counter() - began
    return took, sizes
