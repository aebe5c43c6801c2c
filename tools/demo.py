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
from tools.seed import Seeder

DEMO_SCHOOL = "Szkoła Podstawowa nr 1 w Dziennikowie (demo)"
DEMO_PASSWORD = "Dziennik-demo-2026"


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


def load(seeder: Seeder, admin_login: str, admin_password: str) -> list[tuple[str, str]]:
    admin = seeder.sign_in(admin_login, admin_password)
    if seeder.find_school(admin, DEMO_SCHOOL):
        return []
    school = seeder.school(admin, DEMO_SCHOOL)
    secretary = seeder.person(admin, school, "school_admin", "Barbara", "Sekretarska", DEMO_PASSWORD)
    teacher = seeder.person(admin, school, "teacher", "Tomasz", "Nauczycielski", DEMO_PASSWORD)
    student = seeder.person(admin, school, "student", "Zosia", "Kowalska", DEMO_PASSWORD)
    parent = seeder.person(admin, school, "parent", "Anna", "Kowalska", DEMO_PASSWORD, phone="+48600100200")
    seeder.link(admin, parent, student)
    secretary_md = seeder.sign_in(secretary.login, DEMO_PASSWORD)
    maths = seeder.subject(secretary_md, "Matematyka", "mat")
    seeder.subject(secretary_md, "Język polski", "pol")
    teacher_md = seeder.sign_in(teacher.login, DEMO_PASSWORD)
    for value in ("5", "4+"):
        seeder.gradebook.RecordGrade(gradebook_pb2.RecordGradeRequest(student_id=student.id, subject_id=maths, value=value), metadata=teacher_md)
    return [
        ("sekretariat", secretary.login),
        ("nauczyciel", teacher.login),
        ("rodzic", parent.login),
        ("uczeń", student.login),
    ]


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stopping while still waiting is a clean stop too
    settings = load_settings(CommonSettings)
    port = os.environ.get("GATEWAY_PORT", "8080")
    url = f"http://localhost:{port}"
    wait_until_ready(url)
    admin_login, admin_password = os.environ.get("DZIENNIK_ADMIN_LOGIN"), os.environ.get("DZIENNIK_ADMIN_PASSWORD")
    logins = []
    if admin_login and admin_password:
        seeder = Seeder(open_channel(settings.grpc_target("identity")), open_channel(settings.grpc_target("gradebook")))
        logins = load(seeder, admin_login, admin_password)
    lines = [f"Dziennik działa: {url}  (API: {url}/api/v1, OpenAPI: {url}/api/v1/openapi.json)"]
    if admin_login:
        lines.append(f"  operator platformy: {admin_login} / {admin_password}")
    if logins:
        lines += [f"  {role}: {login} / {DEMO_PASSWORD}" for role, login in logins]
    else:
        lines.append(f"  szkoła demo była już załadowana; loginy demo mają hasło {DEMO_PASSWORD} (zob. README)")
    print("\n".join(lines), flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())
