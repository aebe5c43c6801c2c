"""`make run`'s demo: waits for the system, loads a demo school when there is none, prints the
URL and demo logins, then stays up with the other processes (honcho stops everything when one
process ends)."""
from __future__ import annotations

import os
import signal
import sys
import time
import urllib.request

from dziennik.gradebook.v1 import gradebook_pb2
from platform_kit.config import CommonSettings, load_settings
from platform_kit.grpc_client import open_channel
from tools.seed import Person, Seeder

DEMO_SCHOOL = "Szkoła Podstawowa nr 1 w Dziennikowie (demo)"
DEMO_PASSWORD = "Dziennik-demo-2026"
SCHOOL_YEAR = "2026/2027"

# (first name, last name) of the demo's people; parents get a phone for SMS alerts.
TEACHERS = [("Tomasz", "Nauczycielski"), ("Ewa", "Matematyczna"), ("Piotr", "Polonista")]
CLASSES = {
    "1A": [("Zosia", "Kowalska", "Anna", "Kowalska", "+48600100200"), ("Kuba", "Nowak", "Marek", "Nowak", "+48600100201")],
    "2B": [("Staś", "Kowalski", "Anna", "Kowalska", "+48600100200"), ("Hania", "Wiśniewska", "Ola", "Wiśniewska", "+48600100203")],
}
SUBJECTS = [("Matematyka", "mat"), ("Język polski", "pol"), ("Przyroda", "prz")]


def wait_until_ready(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise SystemExit(f"demo: the system did not become ready at {url} within {seconds:.0f} s")


def load(seeder: Seeder, operator: Person) -> list[tuple[str, Person]]:
    admin = seeder.sign_in(operator)
    if seeder.find_school(admin, DEMO_SCHOOL):
        return []
    school = seeder.school(admin, DEMO_SCHOOL)
    secretary = seeder.person(admin, school, "school_admin", "Barbara", "Sekretarska", DEMO_PASSWORD)
    office = seeder.sign_in(secretary)
    teachers = [seeder.person(office, school, "teacher", first, last, DEMO_PASSWORD) for first, last in TEACHERS]
    subjects = {name: seeder.subject(office, name, short) for name, short in SUBJECTS}
    people: list[tuple[str, Person]] = [("sekretariat", secretary)] + [("nauczyciel", t) for t in teachers]
    parents: dict[str, Person] = {}
    students: list[tuple[Person, str]] = []
    for number, (class_name, pupils) in enumerate(CLASSES.items()):
        class_id = seeder.school_class(office, school, class_name, SCHOOL_YEAR, homeroom=teachers[number])
        for subject_id, teacher in zip(subjects.values(), teachers):
            seeder.assign(office, teacher, class_id, subject_id)
        for first, last, parent_first, parent_last, phone in pupils:
            student = seeder.person(office, school, "student", first, last, DEMO_PASSWORD, class_id=class_id)
            students.append((student, class_id))
            if phone not in parents:  # siblings share a parent
                parents[phone] = seeder.person(office, school, "parent", parent_first, parent_last, DEMO_PASSWORD, phone=phone)
                seeder.sms_alerts_on(parents[phone])
                people.append(("rodzic", parents[phone]))
            seeder.link(office, parents[phone], student)
            seeder.pay_cash(office, parents[phone], student, "sms_alerts")  # SMS alerts are a paid add-on
            people.append(("uczeń", student))
    maths = subjects["Matematyka"]
    teacher = seeder.sign_in(teachers[0])
    for (student, _), values in zip(students, (("5", "4+"), ("3", "np"), ("6",), ("4-", "2"))):
        for value in values:
            seeder.gradebook.RecordGrade(gradebook_pb2.RecordGradeRequest(student_id=student.id, subject_id=maths, value=value), metadata=teacher)
    return people


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stopping while still waiting is a clean stop too
    settings = load_settings(CommonSettings)
    url = f"http://localhost:{os.environ.get('GATEWAY_PORT', '8080')}"
    wait_until_ready(url)
    operator_login, operator_password = os.environ.get("DZIENNIK_ADMIN_LOGIN"), os.environ.get("DZIENNIK_ADMIN_PASSWORD")
    lines = [f"Dziennik działa: {url}  (API: {url}/api/v1, OpenAPI: {url}/api/v1/openapi.json)"]
    if operator_login and operator_password:
        seeder = Seeder(*(open_channel(settings.grpc_target(s)) for s in ("identity", "gradebook", "notify", "billing")))
        people = load(seeder, Person("", operator_login, operator_password))
        lines.append(f"  operator platformy: {operator_login} / {operator_password} (włącza TOTP przy pierwszym logowaniu)")
        if people:
            lines.append(f"  hasło kont demo: {DEMO_PASSWORD}; personel loguje się z kodem TOTP z podanego sekretu")
            for role, person in people:
                secret = f"  TOTP: {person.totp_secret}" if person.totp_secret else ""
                lines.append(f"  {role:12} {person.login:24}{secret}")
        else:
            lines.append("  szkoła demo była już załadowana (loginy: README, hasło Dziennik-demo-2026)")
    print("\n".join(lines), flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())
