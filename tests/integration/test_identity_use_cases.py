"""Identity's use cases against the real PostgreSQL (and, for the consumer, RabbitMQ): activation,
tenancy between schools, class lists from CSV, sessions, the second factor, throttling of failed
sign-ins and extended access bought through billing."""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jwt
import pika
import pyotp
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select, text

from dziennik.billing.v1.events_pb2 import PaymentRefunded, PaymentSettled
from dziennik.identity.v1.events_pb2 import AccessExtended, PeopleChanged
from platform_kit.auth import SERVICE, Principal
from platform_kit.bus import Event
from platform_kit.bus.amqp import EVENTS_EXCHANGE, declare_consumer_queues
from platform_kit.bus.consumer import Consumer, Subscription
from platform_kit.bus.tables import INBOX_TABLE, OUTBOX_TABLE
from platform_kit.db import Database
from platform_kit.errors import (
    ExtendedAccessRequired,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
)
from platform_kit.migrations import upgrade
from services.identity import access
from services.identity.administration import SchoolAdministration
from services.identity.directory import PAYMENT_SETTLED, Directory, on_payment_refunded, today
from services.identity.orm import Entitlement, LoginThrottle, ParentLink, RefreshToken, SchoolClass, User
from services.identity.sessions import Sessions
from tests.conftest import wait_for
from tests.integration import bus_fixtures as bus

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "identity" / "migrations"
SIGN_INS_PER_ADDRESS = 12  # IDENTITY_SIGN_INS_PER_ADDRESS (1000 in production): reachable here
OPERATOR = Principal(user_id="op", school_id=None, roles=frozenset({"superadmin"}))
PASSWORD = "Zielony-Parasol-Kwiat-93"
YEAR = "2026/2027"
ACCESS_EXTENDED_KEY = "identity.access_extended.v1"


# -- fixtures and helpers ------------------------------------------------------------------------------

# The sign-in path's statements are written for both databases; these tests prove it.
BOTH_DATABASES = pytest.mark.parametrize("database", ["postgresql", "sqlite"], indirect=True)


@pytest.fixture
def database(request, postgres_databases, tmp_path):
    """PostgreSQL; a test marked with `BOTH_DATABASES` runs on SQLite (make run's default) too."""
    kind = getattr(request, "param", "postgresql")
    db = Database(postgres_databases("identity") if kind == "postgresql" else f"sqlite:///{tmp_path / 'identity.db'}")
    upgrade(db, MIGRATIONS)
    yield db
    db.dispose()


@pytest.fixture
def sessions(database) -> Sessions:
    sessions = Sessions(database, access_ttl=timedelta(minutes=15), refresh_ttl=timedelta(days=30), sign_ins_per_address=SIGN_INS_PER_ADDRESS)
    sessions.ensure_signing_key()
    return sessions


@pytest.fixture
def administration(database) -> SchoolAdministration:
    return SchoolAdministration(database)


@pytest.fixture
def directory(database) -> Directory:
    return Directory(database)


def principal_of(user: User, session_id: str | None = None) -> Principal:
    return Principal(user_id=user.id, school_id=user.school_id, roles=frozenset(user.role_names), session_id=session_id)


def claims(access_token: str) -> dict:
    return jwt.decode(access_token, options={"verify_signature": False})


def principal_from(access_token: str) -> Principal:
    c = claims(access_token)
    return Principal(user_id=c["sub"], school_id=c["school_id"], roles=frozenset(c["roles"]), session_id=c["sid"])


def school_with_admin(administration: SchoolAdministration, name: str, policy: str = "brochure") -> tuple[str, Principal]:
    school_id = administration.create_school(OPERATOR, name, policy)
    admin = administration.create_user(OPERATOR, role="school_admin", first_name="Sekretariat", last_name=name, school_id=school_id)
    return school_id, principal_of(admin.user)


def active(sessions: Sessions, administration: SchoolAdministration, admin: Principal, role: str, first: str, last: str, **options) -> User:
    """An account created by the school and activated by its owner with PASSWORD."""
    account = administration.create_user(admin, role=role, first_name=first, last_name=last, **options)
    sessions.activate(account.activation_code, PASSWORD)
    return account.user


def count(database: Database, query) -> int:
    with database.transaction() as session:
        return session.scalar(query)


def users_in(database: Database, school_id: str | None = None) -> int:
    query = select(func.count()).select_from(User)
    if school_id is not None:
        query = query.where(User.school_id == school_id)
    return count(database, query)


def password_hash_of(database: Database, user_id: str) -> str | None:
    with database.transaction() as session:
        return session.get(User, user_id).password_hash


def refused_refresh(sessions: Sessions, refresh_token: str) -> bool:
    try:
        sessions.refresh(refresh_token)
    except Unauthenticated:
        return True
    return False


class Authenticator:
    """The user's authenticator app: codes for chosen time steps, kept clear of a step boundary."""

    def __init__(self, secret: str) -> None:
        self.totp = pyotp.TOTP(secret)

    def current_step(self) -> int:
        if time.time() % 30 > 27:  # the server must see the same step as we do
            time.sleep(30 - time.time() % 30 + 0.05)
        return self.totp.timecode(datetime.now(timezone.utc))

    def code(self, step: int) -> str:
        return self.totp.generate_otp(step)


# -- activation ----------------------------------------------------------------------------------------


def test_an_activation_code_works_once(sessions, administration):
    _, admin = school_with_admin(administration, "SP 1")
    account = administration.create_user(admin, role="parent", first_name="Anna", last_name="Nowak")
    assert account.user.password_hash is None

    assert sessions.activate(account.activation_code.lower().replace("-", " "), PASSWORD) == account.user.login
    assert sessions.login(account.user.login, PASSWORD, "10.0.0.1").tokens is not None
    with pytest.raises(NotFound):
        sessions.activate(account.activation_code, "Inne-Bardzo-Dlugie-Haslo-77")
    assert sessions.login(account.user.login, PASSWORD, "10.0.0.1").tokens is not None  # the first password stays


def test_an_expired_activation_code_is_refused(sessions, administration, database):
    _, admin = school_with_admin(administration, "SP 1")
    account = administration.create_user(admin, role="parent", first_name="Anna", last_name="Nowak")
    with database.transaction() as session:
        session.execute(
            text("UPDATE users SET activation_expires_at = now() - interval '1 minute' WHERE id = :id"), {"id": account.user.id}
        )
    with pytest.raises(NotFound):
        sessions.activate(account.activation_code, PASSWORD)
    assert password_hash_of(database, account.user.id) is None


def test_a_weak_password_leaves_the_account_unactivated_and_the_code_usable(sessions, administration, database):
    _, admin = school_with_admin(administration, "SP 1")
    account = administration.create_user(admin, role="parent", first_name="Anna", last_name="Nowak")
    with pytest.raises(InvalidArgument) as refused:
        sessions.activate(account.activation_code, "haslo1234")
    assert refused.value.code == "weak_password"
    assert "password" in refused.value.field_errors
    assert password_hash_of(database, account.user.id) is None

    assert sessions.activate(account.activation_code, PASSWORD) == account.user.login
    assert password_hash_of(database, account.user.id) is not None


@pytest.mark.parametrize(
    ("first", "last", "password"),
    [
        ("Kasjopeja", "Trzebuchowska", "KasjopejaTrzebuchowska"),
        ("Kasjopeja", "Trzebuchowska", "trzebuchowska2010"),
        ("Zenobia", "Wąchocka", "ZenobiaWąchocka"),
        ("Grzegorz", "Brzęczyszczykiewicz", "Brzęczyszczykiewicz2010"),
    ],
)
def test_a_password_made_of_the_persons_own_name_is_refused(sessions, administration, database, first, last, password):
    _, admin = school_with_admin(administration, "SP 1")
    account = administration.create_user(admin, role="parent", first_name=first, last_name=last)
    with pytest.raises(InvalidArgument) as refused:
        sessions.activate(account.activation_code, password)
    assert refused.value.code == "weak_password"
    assert password_hash_of(database, account.user.id) is None


def test_a_password_of_the_persons_own_name_typed_without_polish_letters_is_refused(sessions, administration):
    _, admin = school_with_admin(administration, "SP 1")
    account = administration.create_user(admin, role="parent", first_name="Grzegorz", last_name="Brzęczyszczykiewicz")
    with pytest.raises(InvalidArgument):
        sessions.activate(account.activation_code, "GrzegorzBrzeczyszczykiewicz")


# -- tenancy -------------------------------------------------------------------------------------------


@pytest.fixture
def two_schools(administration):
    """School A with a class, a teacher, a parent and a student; school B with its admin and a teacher."""
    a_id, a_admin = school_with_admin(administration, "SP A")
    b_id, b_admin = school_with_admin(administration, "SP B")
    a_teacher = administration.create_user(a_admin, role="teacher", first_name="Tadeusz", last_name="Adamski").user
    a_class = administration.create_class(a_admin, "1A", YEAR, homeroom_teacher_id=a_teacher.id)
    a_student = administration.create_user(a_admin, role="student", first_name="Ala", last_name="Adamska", class_id=a_class).user
    a_parent = administration.create_user(a_admin, role="parent", first_name="Adam", last_name="Adamski").user
    b_teacher = administration.create_user(b_admin, role="teacher", first_name="Barbara", last_name="Bednarek").user
    b_class = administration.create_class(b_admin, "1B", YEAR)
    return {
        "a": a_id, "a_admin": a_admin, "a_teacher": a_teacher, "a_class": a_class, "a_student": a_student, "a_parent": a_parent,
        "b": b_id, "b_admin": b_admin, "b_teacher": b_teacher, "b_class": b_class,
    }  # fmt: skip


def classes_of(database: Database, school_id: str) -> list[tuple[str, str | None]]:
    with database.transaction() as session:
        return [(k.name, k.homeroom_teacher_id) for k in session.scalars(select(SchoolClass).where(SchoolClass.school_id == school_id))]


def test_another_schools_admin_cannot_create_a_class_in_it_by_naming_its_id(administration, database, two_schools):
    s = two_schools
    with pytest.raises(NotFound):
        administration.create_class(s["b_admin"], "2A", YEAR, school_id=s["a"])
    assert classes_of(database, s["a"]) == [("1A", s["a_teacher"].id)]
    assert [name for name, _ in classes_of(database, s["b"])] == ["1B"]


def test_another_schools_admin_cannot_update_its_class(administration, database, two_schools):
    s = two_schools
    with pytest.raises(NotFound):
        administration.update_class(s["b_admin"], s["a_class"], "1Z", None)
    with pytest.raises(NotFound):
        administration.update_class(s["b_admin"], s["a_class"], None, s["b_teacher"].id)
    assert classes_of(database, s["a"]) == [("1A", s["a_teacher"].id)]


def test_another_schools_admin_cannot_link_its_parent_and_student(administration, database, two_schools):
    s = two_schools
    with pytest.raises(NotFound):
        administration.link_parent(s["b_admin"], s["a_parent"].id, s["a_student"].id)
    b_parent = administration.create_user(s["b_admin"], role="parent", first_name="Bogdan", last_name="Bednarek").user
    with pytest.raises(InvalidArgument):  # their own parent with the other school's child
        administration.link_parent(s["b_admin"], b_parent.id, s["a_student"].id)
    assert count(database, select(func.count()).select_from(ParentLink)) == 0


def test_another_schools_admin_cannot_import_into_its_class(administration, database, two_schools):
    s = two_schools
    before = users_in(database)
    data = "imie_ucznia;nazwisko_ucznia\nJan;Obcy\n".encode()
    with pytest.raises(NotFound):
        administration.import_class_list(s["b_admin"], s["a_class"], data)
    assert users_in(database) == before


def test_another_schools_admin_cannot_assign_teaching_in_its_class(administration, database, two_schools):
    s = two_schools
    subject = str(uuid.uuid4())
    with pytest.raises(NotFound):
        administration.assign_teaching(s["b_admin"], s["a_teacher"].id, s["a_class"], subject)
    with pytest.raises(NotFound):
        administration.assign_teaching(s["b_admin"], s["b_teacher"].id, s["a_class"], subject)
    with pytest.raises(InvalidArgument):  # the other school's teacher in their own class
        administration.assign_teaching(s["b_admin"], s["a_teacher"].id, s["b_class"], subject)
    assert count(database, text("SELECT count(*) FROM teaching_assignments")) == 0


def test_another_schools_admin_cannot_create_people_in_it(administration, database, two_schools):
    s = two_schools
    before = users_in(database, s["a"])
    with pytest.raises(NotFound):
        administration.create_user(s["b_admin"], role="teacher", first_name="Obcy", last_name="Nauczyciel", school_id=s["a"])
    with pytest.raises(InvalidArgument):  # their own student into the other school's class
        administration.create_user(s["b_admin"], role="student", first_name="Obcy", last_name="Uczen", class_id=s["a_class"])
    with pytest.raises(InvalidArgument):  # their own parent of the other school's child
        administration.create_user(s["b_admin"], role="parent", first_name="Obcy", last_name="Rodzic", children=[s["a_student"].id])
    assert users_in(database, s["a"]) == before


def test_list_users_of_one_school_never_returns_another_schools_people(administration, two_schools):
    s = two_schools
    a_ids = {s["a_teacher"].id, s["a_student"].id, s["a_parent"].id, s["a_admin"].user_id}
    listed = administration.list_users(s["b_admin"])
    assert {u.id for u, _ in listed} == {s["b_admin"].user_id, s["b_teacher"].id}
    assert {u.school_id for u, _ in listed} == {s["b"]}
    assert administration.list_users(s["b_admin"], class_id=s["a_class"]) == []
    assert not {u.id for u, _ in administration.list_users(s["b_admin"], role="student")} & a_ids
    with pytest.raises(NotFound):
        administration.list_users(s["b_admin"], school_id=s["a"])
    assert [k.id for k in administration.list_classes(s["b_admin"], school_id=s["a"])] == [s["b_class"]]


def test_roles_that_never_administer_are_denied(administration, two_schools):
    s = two_schools
    teacher = principal_of(s["a_teacher"])
    parent = principal_of(s["a_parent"])
    for caller in (teacher, parent):
        with pytest.raises(PermissionDenied):
            administration.create_class(caller, "3A", YEAR)
        with pytest.raises(PermissionDenied):
            administration.create_user(caller, role="student", first_name="Nowy", last_name="Uczen")
        with pytest.raises(PermissionDenied):
            administration.list_users(caller)
    with pytest.raises(PermissionDenied):
        administration.create_school(s["a_admin"], "SP C")
    with pytest.raises(PermissionDenied):
        administration.list_classes(parent)


# -- class lists from CSV ------------------------------------------------------------------------------

HEADER = "imie_ucznia;nazwisko_ucznia;imie_rodzica_1;nazwisko_rodzica_1;email_rodzica_1;telefon_rodzica_1\n"


@pytest.fixture
def school_class(administration):
    school_id, admin = school_with_admin(administration, "SP 1")
    return admin, administration.create_class(admin, "1A", YEAR)


def test_a_class_list_with_siblings_creates_one_parent_linked_to_both(administration, database, school_class):
    admin, class_id = school_class
    data = (
        HEADER
        + "Zofia;Wiśniewska;Anna;Wiśniewska;anna.wisniewska@example.pl;600 100 200\n"
        + "Jakub;Wiśniewski;Anna;Wiśniewska;;+48600100200\n"
    ).encode("utf-8")
    rows = administration.import_class_list(admin, class_id, data)

    assert [r.row for r in rows] == [2, 3]
    assert [(r.student.user.first_name, r.student.user.last_name) for r in rows] == [("Zofia", "Wiśniewska"), ("Jakub", "Wiśniewski")]
    assert all(r.student.activation_code and not r.student.existing for r in rows)
    [first_parent], [second_parent] = rows[0].parents, rows[1].parents
    assert first_parent.existing is False and first_parent.activation_code
    assert second_parent.existing is True and second_parent.activation_code == ""
    assert second_parent.user.id == first_parent.user.id
    assert first_parent.user.phone == "+48600100200"

    students = administration.list_users(admin, role="student", class_id=class_id)
    assert sorted(u.first_name for u, _ in students) == ["Jakub", "Zofia"]
    assert len(administration.list_users(admin, role="parent")) == 1
    with database.transaction() as session:
        links = set(session.execute(select(ParentLink.parent_id, ParentLink.student_id)))
    assert links == {(first_parent.user.id, rows[0].student.user.id), (first_parent.user.id, rows[1].student.user.id)}


def test_a_class_list_saved_by_excel_in_cp1250_keeps_polish_letters(administration, school_class):
    admin, class_id = school_class
    data = (
        "imię_ucznia;nazwisko_ucznia;imie_rodzica_1;nazwisko_rodzica_1;email_rodzica_1;telefon_rodzica_1\n"
        "Łucja;Żółć;Mieczysław;Żółć;;601 200 300\n"
        "Świętosław;Gęślą;Jadwiga;Gęślą;jadzia@example.pl;\n"
    ).encode("cp1250")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # really not UTF-8
    rows = administration.import_class_list(admin, class_id, data)
    assert [(r.student.user.first_name, r.student.user.last_name, r.student.user.login) for r in rows] == [
        ("Łucja", "Żółć", "lucja.zolc"),
        ("Świętosław", "Gęślą", "swietoslaw.gesla"),
    ]
    assert [(p.user.first_name, p.user.last_name) for r in rows for p in r.parents] == [("Mieczysław", "Żółć"), ("Jadwiga", "Gęślą")]


def test_a_class_list_with_one_bad_row_creates_nothing_and_names_the_row(administration, database, school_class):
    admin, class_id = school_class
    users_before = users_in(database)
    outbox_before = count(database, select(func.count()).select_from(OUTBOX_TABLE))
    data = (
        HEADER
        + "Zofia;Wiśniewska;Anna;Wiśniewska;anna@example.pl;600100200\n"
        + "Piotr;Zieliński;Marek;Zieliński;;12345\n"
        + "Ewa;Kamińska;Ola;Kamińska;;602300400\n"
    ).encode()
    with pytest.raises(InvalidArgument) as refused:
        administration.import_class_list(admin, class_id, data)
    assert [key for key in refused.value.field_errors if key.startswith("wiersz 3")] == ["wiersz 3: phone"]
    assert not [key for key in refused.value.field_errors if not key.startswith("wiersz 3")]
    assert users_in(database) == users_before
    assert count(database, select(func.count()).select_from(OUTBOX_TABLE)) == outbox_before


def test_a_class_list_without_the_student_columns_is_refused(administration, database, school_class):
    admin, class_id = school_class
    before = users_in(database)
    data = "imie;nazwisko;telefon\nJan;Kowalski;600100200\n".encode()
    with pytest.raises(InvalidArgument) as refused:
        administration.import_class_list(admin, class_id, data)
    assert "csv" in refused.value.field_errors
    assert users_in(database) == before


def test_a_one_column_file_without_the_student_columns_is_refused(administration, school_class):
    admin, class_id = school_class
    with pytest.raises(InvalidArgument):
        administration.import_class_list(admin, class_id, "nazwisko\nKowalski\nNowak\n".encode())


# -- sessions ------------------------------------------------------------------------------------------


@pytest.fixture
def parent(sessions, administration) -> User:
    _, admin = school_with_admin(administration, "SP 1")
    return active(sessions, administration, admin, "parent", "Anna", "Nowak")


@BOTH_DATABASES
def test_a_parent_signs_in_with_tokens(sessions, parent):
    signed_in = sessions.login(f"  {parent.login.upper()} ", PASSWORD, "10.0.0.1")
    assert signed_in.mfa_token is None
    tokens = signed_in.tokens
    assert tokens.refresh_token and tokens.expires_in == 900
    c = claims(tokens.access_token)
    assert c["sub"] == parent.id and c["school_id"] == parent.school_id and c["roles"] == ["parent"]
    assert c["amr"] == ["pwd"] and c["mfa_enrollment_required"] is False
    assert c["exp"] - c["iat"] == 900


@BOTH_DATABASES
def test_refresh_rotates_and_a_reused_refresh_token_ends_the_session(sessions, parent):
    first = sessions.login(parent.login, PASSWORD, "10.0.0.1").tokens
    second = sessions.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert claims(second.access_token)["sid"] == claims(first.access_token)["sid"]
    third = sessions.refresh(second.refresh_token)

    with pytest.raises(Unauthenticated):  # rotated out; coming back means it was stolen
        sessions.refresh(first.refresh_token)
    assert refused_refresh(sessions, third.refresh_token)  # the whole family ended


def test_a_password_hashed_with_older_parameters_is_rehashed_at_sign_in(sessions, parent, database):
    from argon2 import PasswordHasher

    from services.identity import credentials

    with database.transaction() as session:
        session.get(User, parent.id).password_hash = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    assert sessions.login(parent.login, PASSWORD, "10.0.0.1").tokens
    with database.transaction() as session:
        upgraded = session.get(User, parent.id).password_hash
    assert not credentials.PASSWORDS.check_needs_rehash(upgraded) and credentials.verify_password(upgraded, PASSWORD)
    assert sessions.login(parent.login, PASSWORD, "10.0.0.1").tokens


def test_of_refreshes_racing_with_one_token_exactly_one_wins_and_the_session_ends(sessions, parent):
    """Two devices (or a thief and the owner) sending the same refresh token at once: claiming it
    is one statement, so one gets a new pair and the other is a replay that ends the session."""
    import threading

    tokens = sessions.login(parent.login, PASSWORD, "10.0.0.1").tokens
    start = threading.Barrier(6)
    outcomes: list[object] = []

    def refresh():
        start.wait()
        try:
            outcomes.append(sessions.refresh(tokens.refresh_token))
        except Unauthenticated as exc:
            outcomes.append(exc)

    racers = [threading.Thread(target=refresh) for _ in range(6)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=30)
    winners = [o for o in outcomes if not isinstance(o, Unauthenticated)]
    assert len(outcomes) == 6 and len(winners) == 1
    assert refused_refresh(sessions, winners[0].refresh_token)  # the replays ended the whole session


def test_logout_ends_refreshing(sessions, parent):
    tokens = sessions.login(parent.login, PASSWORD, "10.0.0.1").tokens
    other = sessions.login(parent.login, PASSWORD, "10.0.0.2").tokens
    sessions.logout(principal_from(tokens.access_token))
    assert refused_refresh(sessions, tokens.refresh_token)
    assert sessions.refresh(other.refresh_token).access_token  # another device stays signed in


def test_changing_the_password_ends_the_other_sessions_but_not_this_one(sessions, parent):
    family_1 = sessions.login(parent.login, PASSWORD, "10.0.0.1").tokens
    family_2 = sessions.login(parent.login, PASSWORD, "10.0.0.2").tokens
    assert claims(family_1.access_token)["sid"] != claims(family_2.access_token)["sid"]
    new_password = "Niebieski-Rower-Las-58"

    with pytest.raises(InvalidArgument):
        sessions.change_password(principal_from(family_1.access_token), "zle-haslo-123", new_password)
    sessions.change_password(principal_from(family_1.access_token), PASSWORD, new_password)

    assert refused_refresh(sessions, family_2.refresh_token)
    assert sessions.refresh(family_1.refresh_token).access_token
    with pytest.raises(Unauthenticated):
        sessions.login(parent.login, PASSWORD, "10.0.0.3")
    assert sessions.login(parent.login, new_password, "10.0.0.3").tokens is not None


def test_a_wrong_password_and_an_unknown_login_get_the_same_answer(sessions, parent):
    with pytest.raises(Unauthenticated) as wrong_password:
        sessions.login(parent.login, "Zle-Haslo-Calkiem-11", "10.0.0.1")
    with pytest.raises(Unauthenticated) as unknown_login:
        sessions.login("nie.ma.takiego", PASSWORD, "10.0.0.1")
    assert wrong_password.value.code == unknown_login.value.code == "invalid_credentials"
    assert wrong_password.value.detail == unknown_login.value.detail


def test_an_account_not_activated_yet_cannot_sign_in(sessions, administration):
    _, admin = school_with_admin(administration, "SP 1")
    account = administration.create_user(admin, role="parent", first_name="Anna", last_name="Nowak")
    with pytest.raises(Unauthenticated) as refused:
        sessions.login(account.user.login, PASSWORD, "10.0.0.1")
    assert refused.value.code == "invalid_credentials"


# -- the second factor -----------------------------------------------------------------------------------


@pytest.fixture
def teacher(sessions, administration) -> User:
    _, admin = school_with_admin(administration, "SP 1")
    return active(sessions, administration, admin, "teacher", "Tomasz", "Nauczycielski")


def test_with_totp_sign_in_needs_a_code_and_each_code_works_once(sessions, teacher):
    tokens = sessions.login(teacher.login, PASSWORD, "10.0.0.1").tokens
    secret, uri = sessions.enroll_totp(principal_from(tokens.access_token))
    assert uri.startswith("otpauth://totp/") and secret in uri
    app = Authenticator(secret)
    step = app.current_step()
    sessions.confirm_totp(principal_from(tokens.access_token), app.code(step - 1))  # clock drift: one step back is fine

    signed_in = sessions.login(teacher.login, PASSWORD, "10.0.0.1")
    assert signed_in.tokens is None and signed_in.mfa_token
    verified = sessions.verify_mfa(signed_in.mfa_token, app.code(step), "10.0.0.1")
    c = claims(verified.access_token)
    assert c["amr"] == ["pwd", "otp"]
    assert c["mfa_enrollment_required"] is False
    assert verified.refresh_token

    again = sessions.login(teacher.login, PASSWORD, "10.0.0.1")
    with pytest.raises(Unauthenticated):
        sessions.verify_mfa(again.mfa_token, app.code(step), "10.0.0.1")  # the same code again
    with pytest.raises(Unauthenticated):
        sessions.verify_mfa("not-a-token", app.code(step + 1), "10.0.0.1")


def test_a_teacher_without_totp_must_enrol_and_confirming_clears_it_for_this_session(sessions, teacher):
    tokens = sessions.login(teacher.login, PASSWORD, "10.0.0.1").tokens
    c = claims(tokens.access_token)
    assert c["mfa_enrollment_required"] is True and c["amr"] == ["pwd"]

    me = principal_from(tokens.access_token)
    secret, _ = sessions.enroll_totp(me)
    app = Authenticator(secret)
    with pytest.raises(InvalidArgument):
        sessions.confirm_totp(me, "000000" if app.code(app.current_step()) != "000000" else "111111")
    sessions.confirm_totp(me, app.code(app.current_step()))

    refreshed = claims(sessions.refresh(tokens.refresh_token).access_token)
    assert refreshed["mfa_enrollment_required"] is False
    assert refreshed["amr"] == ["pwd", "otp"]
    assert refreshed["sid"] == c["sid"]


# -- throttling of failed sign-ins ---------------------------------------------------------------------


def _blocked(sessions: Sessions, login: str, address: str) -> bool:
    try:
        sessions.throttle.check(login, address)
    except RateLimited:
        return True
    return False


@BOTH_DATABASES
def test_failed_sign_ins_block_the_address_not_the_account(sessions, parent):
    attacker, victim = "203.0.113.7", "198.51.100.20"
    for _ in range(5):  # the free failures
        with pytest.raises(Unauthenticated):
            sessions.login(parent.login, "Zle-Haslo-Calkiem-11", attacker)
    sessions.throttle.check(parent.login, attacker)  # not blocked yet
    with pytest.raises(Unauthenticated):  # the sixth failure is answered, and blocks
        sessions.login(parent.login, "Zle-Haslo-Calkiem-11", attacker)

    with pytest.raises(RateLimited) as blocked:
        sessions.throttle.check(parent.login, attacker)
    assert blocked.value.retry_after >= 1

    # The first block lasts a second; the next failure after it doubles the wait to two seconds,
    # which leaves room for the checks below on a busy machine.
    wait_for(lambda: not _blocked(sessions, parent.login, attacker), timeout=5, message="the first block to end")
    with pytest.raises(Unauthenticated):
        sessions.login(parent.login, "Zle-Haslo-Calkiem-11", attacker)
    with pytest.raises(RateLimited) as blocked:
        sessions.throttle.check(parent.login, attacker)
    assert 1 <= blocked.value.retry_after <= 2
    with pytest.raises(RateLimited):  # even the right password, from the blocked address
        sessions.login(parent.login, PASSWORD, attacker)
    assert sessions.login(parent.login, PASSWORD, victim).tokens is not None  # no lock-out of the owner
    with pytest.raises(RateLimited):
        sessions.throttle.check(parent.login, attacker)


@BOTH_DATABASES
def test_every_sign_in_counts_against_its_address_and_past_the_limit_even_the_right_password_waits(sessions, parent, database):
    school, elsewhere = "203.0.113.40", "198.51.100.41"
    for n in range(SIGN_INS_PER_ADDRESS):  # right and wrong passwords alike (a NAT at 8:00, or a script)
        if n % 3:
            assert sessions.login(parent.login, PASSWORD, school).tokens is not None
        else:
            with pytest.raises(Unauthenticated):
                sessions.login(parent.login, "Zle-Haslo-Calkiem-11", school)
    sessions_before = count(database, select(func.count()).select_from(RefreshToken))

    with pytest.raises(RateLimited) as refused:
        sessions.login(parent.login, PASSWORD, school)

    assert 1 <= refused.value.retry_after <= 600  # until the ten-minute window ends
    assert count(database, select(func.count()).select_from(RefreshToken)) == sessions_before  # no session began
    assert sessions.login(parent.login, PASSWORD, elsewhere).tokens is not None  # another address is not affected


@BOTH_DATABASES
def test_a_sign_in_forgets_the_accounts_failures_from_that_address_but_not_the_addresss(sessions, parent, database):
    address = "203.0.113.9"
    for _ in range(5):  # the free failures
        with pytest.raises(Unauthenticated):
            sessions.login(parent.login, "Zle-Haslo-Calkiem-11", address)
    assert sessions.login(parent.login, PASSWORD, address).tokens is not None
    for _ in range(5):  # free again: the sign-in cleared the account's count from this address
        with pytest.raises(Unauthenticated):
            sessions.login(parent.login, "Zle-Haslo-Calkiem-11", address)
    assert not _blocked(sessions, parent.login, address)
    with database.transaction() as session:
        counts = {row.key: row.failures for row in session.scalars(select(LoginThrottle))}
    assert counts == {f"account+address:{parent.login}|{address}": 5, f"address:{address}": 10}


# -- extended access (entitlements) --------------------------------------------------------------------


def family(sessions, administration, policy: str = "brochure") -> dict:
    school_id, admin = school_with_admin(administration, "SP 1", policy)
    class_id = administration.create_class(admin, "1A", YEAR)
    student = administration.create_user(admin, role="student", first_name="Ola", last_name="Nowak", class_id=class_id).user
    parent = administration.create_user(admin, role="parent", first_name="Ewa", last_name="Nowak", children=[student.id]).user
    stranger = administration.create_user(admin, role="parent", first_name="Jan", last_name="Obcy").user
    return {"school": school_id, "admin": admin, "student": student, "parent": parent, "stranger": stranger}


def payment(f: dict, *, product: str = "extended_access", event_id: str | None = None) -> Event:
    message = PaymentSettled(
        order_id=str(uuid.uuid4()),
        school_id=f["school"],
        parent_id=f["parent"].id,
        student_id=f["student"].id,
        product=product,
        period_months=12,
        amount=2200,
        channel="payu",
    )
    return Event(event_id=event_id or str(uuid.uuid4()), type=PAYMENT_SETTLED.routing_key, message=message)


def entitlements(database: Database) -> dict[tuple[str, str], object]:
    with database.transaction() as session:
        return {(e.holder_id, e.student_id): e.valid_until for e in session.scalars(select(Entitlement))}


def access_extended_events(database: Database) -> list[AccessExtended]:
    with database.transaction() as session:
        payloads = session.scalars(select(OUTBOX_TABLE.c.payload).where(OUTBOX_TABLE.c.routing_key == ACCESS_EXTENDED_KEY))
        return [AccessExtended.FromString(p) for p in payloads]


def one_year_from_today():
    return access.add_months(today(), 12) - timedelta(days=1)


def test_a_settled_payment_extends_the_parents_and_the_childs_access(sessions, administration, directory, database):
    f = family(sessions, administration)
    parent, student = principal_of(f["parent"]), principal_of(f["student"])
    with pytest.raises(ExtendedAccessRequired):
        directory.check_access(parent, f["student"].id, "grades")
    with pytest.raises(ExtendedAccessRequired):
        directory.check_access(student, f["student"].id, "attendance")

    event = payment(f)
    with database.transaction() as session:
        directory.on_payment_settled(session, event)

    until = one_year_from_today()
    assert entitlements(database) == {(f["parent"].id, f["student"].id): until, (f["student"].id, f["student"].id): until}
    [extended] = access_extended_events(database)
    assert (extended.parent_id, extended.student_id, extended.school_id) == (f["parent"].id, f["student"].id, f["school"])
    assert extended.valid_until == until.isoformat()
    assert extended.payment_event_id == event.event_id
    assert extended.product == "extended_access"

    granted = directory.check_access(parent, f["student"].id, "grades")
    assert granted.extended is True and granted.valid_until == until
    own = directory.check_access(student, f["student"].id, "attendance")
    assert own.extended is True
    # The family is vouched for as people (the gateway may answer them from its page copies);
    # staff pass on their role, and which students they teach is gradebook's check.
    assert granted.family and own.family and not directory.check_access(f["admin"], f["student"].id, "grades").family
    with pytest.raises(NotFound):  # another family's parent
        directory.check_access(principal_of(f["stranger"]), f["student"].id, "grades")
    me = directory.me(parent)
    assert [(c.student.id, c.access.valid_until) for c in me.children] == [(f["student"].id, until)]


def test_paying_again_while_valid_extends_from_the_end(sessions, administration, directory, database):
    f = family(sessions, administration)
    for _ in range(2):
        with database.transaction() as session:
            directory.on_payment_settled(session, payment(f))
    twice = access.add_months(access.add_months(today(), 12), 12) - timedelta(days=1)
    assert set(entitlements(database).values()) == {twice}
    assert len(access_extended_events(database)) == 2


def test_one_order_extends_once_even_under_two_event_ids(sessions, administration, directory, database):
    f = family(sessions, administration)
    first = payment(f)
    again = Event(event_id=str(uuid.uuid4()), type=first.type, message=first.message)  # same order_id
    for event in (first, again):
        with database.transaction() as session:
            directory.on_payment_settled(session, event)
    assert set(entitlements(database).values()) == {one_year_from_today()}
    assert len(access_extended_events(database)) == 1


def test_a_payment_naming_someone_elses_parent_extends_only_the_student(sessions, administration, directory, database):
    f = family(sessions, administration)
    event = payment(f)
    event.message.parent_id = f["stranger"].id
    with database.transaction() as session:
        directory.on_payment_settled(session, event)
    assert entitlements(database) == {(f["student"].id, f["student"].id): one_year_from_today()}


def test_a_statutory_school_keeps_grades_free_and_sms_alerts_paid(sessions, administration, directory):
    f = family(sessions, administration, policy="statutory")
    parent = principal_of(f["parent"])
    free = directory.check_access(parent, f["student"].id, "grades")
    assert free.extended is False
    assert directory.check_access(parent, f["student"].id, "attendance").extended is False
    with pytest.raises(ExtendedAccessRequired):
        directory.check_access(parent, f["student"].id, "sms_alerts")
    with pytest.raises(NotFound):
        directory.check_access(principal_of(f["stranger"]), f["student"].id, "grades")


def test_an_sms_alerts_add_on_allows_sms_but_opens_no_register_data(sessions, administration, directory, database):
    f = family(sessions, administration)
    parent = principal_of(f["parent"])
    service = SERVICE
    assert directory.student_contacts(service, f["student"].id).sms_allowed == frozenset()  # brochure: SMS is an add-on
    with database.transaction() as session:
        directory.on_payment_settled(session, payment(f, product="sms_alerts"))
    assert entitlements(database) == {}
    with pytest.raises(ExtendedAccessRequired):
        directory.check_access(parent, f["student"].id, "grades")
    assert directory.check_access(parent, f["student"].id, "sms_alerts").extended is False  # allowed, and no extended access
    assert directory.student_contacts(service, f["student"].id).sms_allowed == {f["parent"].id, f["student"].id}
    [event] = access_extended_events(database)
    assert event.product == "sms_alerts" and event.valid_until == one_year_from_today().isoformat()


def test_under_the_statutory_policy_extended_access_allows_sms_for_the_holder_only(sessions, administration, directory, database):
    f = family(sessions, administration, policy="statutory")
    second = administration.create_user(f["admin"], role="parent", first_name="Adam", last_name="Nowak", children=[f["student"].id]).user
    with database.transaction() as session:
        directory.on_payment_settled(session, payment(f))
    service = SERVICE
    sheet = directory.student_contacts(service, f["student"].id)
    assert sheet.sms_allowed == {f["parent"].id, f["student"].id}  # the other parent did not pay
    assert {p.id for p in sheet.parents} == {f["parent"].id, second.id}


def test_a_students_facts_are_the_contact_sheets_school_class_and_parents_for_whoever_may_see_the_sheet(sessions, administration, directory):
    f = family(sessions, administration)
    second = administration.create_user(f["admin"], role="parent", first_name="Adam", last_name="Nowak", children=[f["student"].id]).user
    sheet = directory.student_contacts(SERVICE, f["student"].id)
    facts = directory.student_facts(SERVICE, f["student"].id)
    assert (facts.id, facts.school_id, facts.class_id, facts.first_name, facts.last_name) == (
        sheet.student.id, sheet.student.school_id, sheet.klass.id, sheet.student.first_name, sheet.student.last_name
    )
    assert facts.parent_ids == sorted([f["parent"].id, second.id]) == sorted(p.id for p in sheet.parents)
    assert directory.student_facts(f["admin"], f["student"].id) == facts  # the school's staff
    unenrolled = administration.create_user(f["admin"], role="student", first_name="Ewa", last_name="Bezklasy").user
    assert (directory.student_facts(SERVICE, unenrolled.id).class_id, directory.student_facts(SERVICE, unenrolled.id).parent_ids) == ("", [])
    _, elsewhere = school_with_admin(administration, "SP 2")
    for caller, student_id in [
        (principal_of(f["parent"]), f["student"].id),  # parents read the page, not the facts
        (elsewhere, f["student"].id),  # another school's staff
        (SERVICE, f["parent"].id),  # not a student
        (SERVICE, "no-such-id"),
        (SERVICE, ""),
    ]:
        with pytest.raises(NotFound):
            directory.student_facts(caller, student_id)


def test_the_contacts_of_a_schools_classes_come_in_one_answer_for_services_only(sessions, administration, directory):
    f = family(sessions, administration)
    admin = f["admin"]
    other_class = administration.create_class(admin, "2B", YEAR)
    other = administration.create_user(admin, role="student", first_name="Piotr", last_name="Zięba", class_id=other_class).user
    service = SERVICE
    everyone = directory.list_student_contacts(service, f["school"], [])
    assert [s.student.id for s in everyone] == [f["student"].id, other.id]
    assert [p.id for p in everyone[0].parents] == [f["parent"].id] and everyone[0].klass.name == "1A"
    only_2b = directory.list_student_contacts(service, f["school"], [other_class])
    assert [(s.student.id, s.klass.name, s.parents) for s in only_2b] == [(other.id, "2B", [])]
    with pytest.raises(NotFound):
        directory.list_student_contacts(admin, f["school"], [])
    # Named students (gradebook's batch of grades): only those of this school, each once.
    _, elsewhere_admin = school_with_admin(administration, "SP 2")
    elsewhere = administration.create_user(
        elsewhere_admin, role="student", first_name="Ida", last_name="Obca", class_id=administration.create_class(elsewhere_admin, "1A", YEAR)
    ).user
    named = directory.list_student_contacts(service, f["school"], [], [other.id, elsewhere.id, f["student"].id, other.id, "no-such-id"])
    assert [s.student.id for s in named] == [f["student"].id, other.id]


def consumed(queue: str, outcome: str) -> float:
    return REGISTRY.get_sample_value(
        "events_consumed_total", {"consumer": queue, "routing_key": PAYMENT_SETTLED.routing_key, "outcome": outcome}
    ) or 0.0


def test_a_payment_settled_delivered_twice_extends_only_once(sessions, administration, directory, database, amqp_url):
    f = family(sessions, administration)
    queue = "identity.entitlements"
    event = payment(f)
    handled_before, duplicates_before = consumed(queue, "handled"), consumed(queue, "duplicate")

    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        declare_consumer_queues(channel, queue, [PAYMENT_SETTLED.routing_key], [100])
        channel.confirm_delivery()
        properties = pika.BasicProperties(
            type=PAYMENT_SETTLED.routing_key,
            message_id=event.event_id,
            delivery_mode=2,
            headers={"school_id": f["school"], "subject": f["student"].id},
        )
        for _ in range(2):  # the broker (or billing's relay) delivers the same event twice
            channel.basic_publish(EVENTS_EXCHANGE, PAYMENT_SETTLED.routing_key, event.message.SerializeToString(), properties=properties)
    finally:
        connection.close()

    worker = Consumer(queue, database, amqp_url, [Subscription(PAYMENT_SETTLED, directory.on_payment_settled)], retry_delays_ms=(100,))
    with bus.running(worker):
        wait_for(
            lambda: consumed(queue, "handled") - handled_before >= 1 and consumed(queue, "duplicate") - duplicates_before >= 1,
            timeout=20,
            message="one handled and one duplicate PaymentSettled",
        )
    assert consumed(queue, "handled") - handled_before == 1
    assert consumed(queue, "duplicate") - duplicates_before == 1

    until = one_year_from_today()  # not 24 months
    assert entitlements(database) == {(f["parent"].id, f["student"].id): until, (f["student"].id, f["student"].id): until}
    [extended] = access_extended_events(database)
    assert extended.payment_event_id == event.event_id
    assert count(database, select(func.count()).select_from(INBOX_TABLE).where(INBOX_TABLE.c.consumer == queue)) == 1
    assert bus.queue_depth(amqp_url, queue) == 0


def test_two_secretaries_adding_namesakes_at_once_both_succeed(administration):
    from concurrent.futures import ThreadPoolExecutor

    school_id, admin = school_with_admin(administration, "SP namesakes")

    def add(_):
        return administration.create_user(admin, role="parent", first_name="Jan", last_name="Kowalski").user.login

    with ThreadPoolExecutor(max_workers=6) as pool:
        logins = list(pool.map(add, range(6)))
    assert len(set(logins)) == 6 and "jan.kowalski" in logins


def test_the_superadmin_is_made_once_and_only_with_a_strong_password(sessions, database):
    with pytest.raises(InvalidArgument):
        sessions.ensure_superadmin("operator", "operator1")
    with database.transaction() as session:
        assert session.scalar(select(User).where(User.login == "operator")) is None
    sessions.ensure_superadmin("operator", PASSWORD)
    sessions.ensure_superadmin("operator", "operator1")  # a later start finds the account and changes nothing
    assert sessions.login("operator", PASSWORD, "10.0.0.1").tokens


# -- PeopleChanged: what other services' copies are dropped for ----------------------------------------

PEOPLE_CHANGED_KEY = "identity.people_changed.v1"


def people_changed(database: Database) -> list[tuple[set[str], str]]:
    """The PeopleChanged events in the outbox, oldest first: (user ids, whole school id)."""
    with database.transaction() as session:
        rows = session.execute(
            select(OUTBOX_TABLE.c.payload).where(OUTBOX_TABLE.c.routing_key == PEOPLE_CHANGED_KEY).order_by(OUTBOX_TABLE.c.seq)
        )
        return [(set(e.user_ids), e.whole_school_id) for e in (PeopleChanged.FromString(r.payload) for r in rows)]


def changes_of(database: Database, action) -> tuple[set[str], set[str]]:
    """Everyone and every whole school the PeopleChanged events `action()` recorded name (a
    transaction that flushes twice may record two events)."""
    before = len(people_changed(database))
    action()
    recorded = people_changed(database)[before:]
    return set().union(*(ids for ids, _ in recorded)), {school for _, school in recorded if school}


@BOTH_DATABASES
def test_changes_to_links_teaching_and_classes_name_everyone_they_concern(sessions, administration, database):
    f = family(sessions, administration)
    admin = f["admin"]
    teacher = administration.create_user(admin, role="teacher", first_name="Jan", last_name="Uczący").user
    other_teacher = administration.create_user(admin, role="teacher", first_name="Ewa", last_name="Druga").user
    class_id = administration.create_class(admin, "2B", YEAR, homeroom_teacher_id=teacher.id)

    assert changes_of(database, lambda: administration.link_parent(admin, f["stranger"].id, f["student"].id)) == ({f["stranger"].id, f["student"].id}, set())
    assert changes_of(database, lambda: administration.assign_teaching(admin, teacher.id, class_id, "subject-1")) == ({teacher.id}, set())
    # the class's former homeroom teacher loses it: both are named
    assert changes_of(database, lambda: administration.update_class(admin, class_id, None, other_teacher.id)) == ({teacher.id, other_teacher.id}, set())
    # a school's access policy concerns everyone in it
    assert changes_of(database, lambda: administration.set_access_policy(admin, f["school"], "statutory")) == (set(), {f["school"]})


@BOTH_DATABASES
def test_people_created_together_are_not_named_but_existing_ones_they_join_are(sessions, administration, database):
    school_id, admin = school_with_admin(administration, "SP 7")
    class_id = administration.create_class(admin, "1A", YEAR)
    assert changes_of(database, lambda: administration.create_user(admin, role="student", first_name="Ola", last_name="Nowak", class_id=class_id)) == (set(), set())
    [student_id] = [s.id for s, _ in administration.list_users(admin, role="student")]
    # a new parent linked to an existing child: the child's facts changed (a parent more)
    assert changes_of(
        database, lambda: administration.create_user(admin, role="parent", first_name="Ewa", last_name="Nowak", children=[student_id])
    ) == ({student_id}, set())


def test_payments_and_refunds_name_the_parent_and_the_child_and_sign_ins_name_nobody(sessions, administration, directory, database):
    f = family(sessions, administration)
    names = {f["parent"].id, f["student"].id}
    assert changes_of(database, lambda: _in_transaction(database, directory.on_payment_settled, payment(f))) == (names, set())
    refund = Event(
        event_id=str(uuid.uuid4()),
        type="billing.payment_refunded.v1",
        message=PaymentRefunded(order_id="o-1", school_id=f["school"], parent_id=f["parent"].id, student_id=f["student"].id, product="extended_access", period_months=12),
    )
    assert changes_of(database, lambda: _in_transaction(database, on_payment_refunded, refund)) == (names, set())

    account = administration.create_user(f["admin"], role="parent", first_name="Anna", last_name="Nowa")
    sessions.activate(account.activation_code, PASSWORD)
    assert changes_of(database, lambda: sessions.login(account.user.login, PASSWORD, "10.0.0.5")) == (set(), set())


def test_a_change_that_rolls_back_records_no_event(sessions, administration, database):
    f = family(sessions, administration)

    def link_then_fail():
        with database.transaction() as session:
            session.add(ParentLink(parent_id=f["stranger"].id, student_id=f["student"].id))
            session.flush()
            raise RuntimeError("the use case failed after its first statement")

    with pytest.raises(RuntimeError):
        changes_of(database, link_then_fail)
    assert changes_of(database, lambda: None) == (set(), set())
    # the next transaction of the same kind is recorded on its own (nothing left over from the failed one)
    assert changes_of(database, lambda: administration.link_parent(f["admin"], f["stranger"].id, f["student"].id)) == (
        {f["stranger"].id, f["student"].id}, set()
    )


def _in_transaction(database: Database, handler, event: Event) -> None:
    with database.transaction() as session:
        handler(session, event)
