"""The school office in the web app, through the UI only: the secretary signs in with TOTP, opens
an account for a new teacher, creates a class with her as homeroom teacher, imports the class
list from CSV, books a bank statement (one line pays a parent's transfer, one waits for review
and is dismissed), publishes an announcement and answers a parent's ticket. Then the new teacher
activates her account with the code and enrols her authenticator app."""
from __future__ import annotations

import time
import uuid

import pyotp
import pytest

from tests.e2e.test_web_app import api, browser_factory, school_today  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e

PASSWORD = "Sekretariat-web-" + uuid.uuid4().hex[:6]
CLASS_LIST = (
    "imie_ucznia;nazwisko_ucznia;imie_rodzica_1;nazwisko_rodzica_1;email_rodzica_1;telefon_rodzica_1\n"
    "Kamil;Zieliński;Marta;Zielińska;marta.zielinska@example.com;+48600300400\n"
    "Lena;Wójcik;Piotr;Wójcik;;+48600300401\n"
)


def seed_office(system) -> dict:
    """A school with its secretary, a family that ordered extended access by bank transfer and
    a parent's help ticket."""
    seeder = system.seeder()
    operator = seeder.sign_in(system.operator)
    school_id = seeder.school(operator, f"SP Biuro {uuid.uuid4().hex[:6]}", policy="brochure")
    # The secretary only enrols her second factor here: each TOTP code works once, so every
    # sign-in of hers before the browser's would make the browser wait for a fresh code.
    secretary = seeder.person(operator, school_id, "school_admin", "Grażyna", "Sekretarska", PASSWORD)
    class_id = seeder.school_class(operator, school_id, "3D", "2026/2027")
    student = seeder.person(operator, school_id, "student", "Janek", "Przelewski", PASSWORD, class_id=class_id)
    parent = seeder.person(operator, school_id, "parent", "Irena", "Przelewska", PASSWORD, children=(student,))
    parent_headers = system.headers(parent)
    order = api(system, "POST", "/billing/orders", parent_headers, json={"product": "extended_access", "student_id": student.id, "channel": "bank_transfer"}).json()
    ticket = api(system, "POST", "/support/tickets", parent_headers, json={"subject": "Nie pamiętam loginu dziecka", "body": "Proszę o pomoc z kontem syna."}).json()
    return {"secretary": secretary, "parent": parent_headers, "order": order, "ticket": ticket["id"]}


@pytest.fixture(scope="module")
def office(system):
    return seed_office(system)


def test_the_secretary_runs_the_school_office_and_a_new_teacher_activates_her_account(system, office, browser_factory, tmp_path):
    from selenium.webdriver.support.ui import Select

    started = time.monotonic()
    browser = browser_factory(system.url, "office")
    secretary = office["secretary"]

    browser.open("/")
    browser.heading("Logowanie")
    browser.fill("input[name=login]", secretary.login)
    browser.fill("input[name=password]", secretary.password)
    browser.click("Zaloguj się")
    browser.heading("Kod weryfikacyjny")
    browser.fill("input[name=code]", secretary.next_code())
    browser.click("Potwierdź")

    # A new teacher's account and its one-time activation code.
    browser.heading("Użytkownicy")
    Select(browser.find("#new-user-role")).select_by_visible_text("nauczyciel")
    browser.fill("input[name=first_name]", "Renata")
    browser.fill("input[name=last_name]", "Nowicka")
    browser.click("Utwórz konto")
    browser.text_present(".notice-success", "Utworzono konto: Renata Nowicka")
    login = browser.find(".new-login").text
    code = browser.find(".activation-code").text
    browser.shot("new-user")

    # A class with her as homeroom teacher, and its list from CSV.
    browser.menu("Klasy")
    browser.heading("Klasy")
    browser.fill("input[name=name]", "1B")
    Select(browser.find("select[name=homeroom_teacher_id]")).select_by_visible_text("Nowicka Renata")
    browser.click("Utwórz klasę")
    browser.text_present("table", "1B")
    csv_file = tmp_path / "lista-1b.csv"
    csv_file.write_text(CLASS_LIST, encoding="utf-8")
    Select(browser.find("#csv-import ~ form select[name=class_id]")).select_by_visible_text("1B")
    browser.find("input[name=file]").send_keys(str(csv_file))
    browser.click("Importuj")
    browser.text_present(".notice-success", "Zaimportowano uczniów: 2.")
    browser.text_present("[role=status] table", "Zieliński")
    browser.shot("classes")

    # A bank statement: the family's transfer is booked, an unknown line waits and is dismissed.
    order = office["order"]
    statement = tmp_path / "wyciag.csv"
    statement.write_text(
        "Data operacji;Kwota;Tytuł;Nadawca\n"
        f"{school_today().isoformat()};22,00;{order['transfer']['title']};IRENA PRZELEWSKA\n"
        f"{school_today().isoformat()};50,00;darowizna na komitet rodzicielski;JAN NIEZNANY\n",
        encoding="utf-8",
    )
    browser.menu("Wyciągi bankowe")
    browser.heading("Wyciągi bankowe")
    browser.find("input[name=file]").send_keys(str(statement))
    browser.click("Importuj")
    browser.text_present(".notice-success", "Zaksięgowano: 1, do sprawdzenia: 1, powtórzone: 0.")
    browser.shot("statement")
    browser.click("Odśwież kolejkę do sprawdzenia")
    browser.text_present("#review-queue", "Do sprawdzenia (1)")
    browser.click("Odrzuć")
    browser.text_present("#review-queue", "Do sprawdzenia (0)")
    assert api(system, "GET", f"/billing/orders/{order['id']}", office["parent"]).json()["status"] == "paid"

    browser.menu("Płatności")
    browser.heading("Płatności")
    browser.text_present("table", order["transaction_number"])
    browser.shot("payments")

    # An announcement for the whole school.
    browser.menu("Ogłoszenia")
    browser.heading("Ogłoszenia")
    browser.fill("input[name=title]", "Zebranie z rodzicami")
    browser.fill("textarea[name=body]", "Zapraszamy rodziców w czwartek o 17:00.")
    browser.click("Opublikuj")
    browser.text_present(".plain-list", "Zebranie z rodzicami")
    assert [a["title"] for a in api(system, "GET", "/announcements", office["parent"]).json()["items"]] == ["Zebranie z rodzicami"]

    # The parent's ticket, answered.
    browser.menu("Zgłoszenia")
    browser.heading("Zgłoszenia pomocy")
    browser.find(".message-list a").click()
    browser.heading("Nie pamiętam loginu dziecka")
    browser.fill("textarea[name=body]", "Login syna to janek.przelewski — hasło ustawi Pan kodem aktywacyjnym.")
    browser.click("Wyślij odpowiedź")
    browser.text_present(".conversation", "janek.przelewski")
    browser.shot("ticket")
    posts = api(system, "GET", f"/support/tickets/{office['ticket']}", office["parent"]).json()["posts"]
    assert len(posts) == 2

    # The new teacher: activation with the code, then her authenticator app.
    browser.click("Wyloguj")
    browser.heading("Logowanie")
    browser.click("Mam kod aktywacyjny ze szkoły")
    browser.heading("Aktywacja konta")
    new_password = "Renata-" + uuid.uuid4().hex[:10]
    browser.fill("input[name=activation_code]", code)
    browser.fill("input[name=password]", new_password)
    browser.fill("input[name=password_repeat]", new_password)
    browser.click("Aktywuj konto")
    browser.heading("Konto aktywne")
    assert browser.find(".login-name").text == login
    browser.click("Przejdź do logowania")
    browser.heading("Logowanie")
    browser.fill("input[name=login]", login)
    browser.fill("input[name=password]", new_password)
    browser.click("Zaloguj się")
    browser.heading("Włącz drugi składnik logowania")
    browser.click("Rozpocznij")
    secret = browser.visible("code.secret").text
    browser.fill("input[name=code]", pyotp.TOTP(secret).now())
    browser.shot("enrol")
    browser.click("Włącz")
    browser.heading("Arkusz ocen")  # no subject assigned to her yet: the sheet says so
    browser.menu("Wychowawstwo")
    browser.heading("Wychowawstwo: klasa 1B")
    browser.text_present("#report-student", "Zieliński Kamil")
    browser.shot("homeroom")
    assert browser.console_problems() == []
    assert time.monotonic() - started < 120
