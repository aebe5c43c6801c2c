"""A parent uses the web app with the keyboard alone (WCAG 2.1 SC 2.1.1, 2.1.2, 2.4.1, 2.4.3,
2.4.7): the skip link is the first Tab stop and shows itself when focused; signing in is Tab, typing
and Enter; the main menu is reached and followed with Tab and Enter, and each new screen puts the
focus on its heading; a grade opens with Enter; the language switch keeps the focus where it was;
the compose form lets the focus in and out both ways (no trap), a problem is announced with the
focus on the field to fix, and the message goes with Enter. Every element the Tab key stops at
shows a visible focus indicator.

No mouse anywhere: keys go to whatever has the focus, as real key presses (selenium's actions)."""
from __future__ import annotations

import time
import uuid

import pytest

from tests.e2e.test_web_app import api, browser_factory, days_ago  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e

PASSWORD = "Klawiatura-web-" + uuid.uuid4().hex[:6]

# What has the focus, and how it shows: the element, its name for the report, where it is, and
# its focus ring (an attendance choice is a hidden radio button whose label draws the ring).
FOCUS_STATE = """
const el = document.activeElement;
if (!el || el === document.body || el === document.documentElement) return null;
const ringOwner = el.matches('.status-option input') ? el.nextElementSibling : el;
const ring = getComputedStyle(ringOwner);
const rect = ringOwner.getBoundingClientRect();
const label = el.id ? document.querySelector(`label[for="${CSS.escape(el.id)}"]`) : null;
return {
  element: el,
  tag: el.tagName.toLowerCase(),
  id: el.id,
  name: el.getAttribute('name') || '',
  text: ((label && label.textContent) || el.getAttribute('aria-label') || el.textContent || '').trim().replace(/\\s+/g, ' '),
  classes: el.getAttribute('class') || '',
  in_menu: Boolean(el.closest('#menu')),
  in_main: Boolean(el.closest('main')),
  in_form: Boolean(el.closest('main form')),
  in_recipients: Boolean(el.closest('fieldset.recipients')),
  outline: ring.outlineStyle !== 'none' && parseFloat(ring.outlineWidth) >= 2 ? `${ring.outlineWidth} ${ring.outlineStyle} ${ring.outlineColor}` : '',
  shadow: ring.boxShadow !== 'none' && !ring.boxShadow.includes('inset') ? ring.boxShadow : '',
  on_screen: rect.width > 0 && rect.height > 0 && rect.bottom > 0 && rect.right > 0 && rect.top < innerHeight && rect.left < innerWidth,
};
"""


def seed_family(system) -> dict:
    """A school whose policy gives grades to every parent (no payment on the way); class 3B with
    homeroom teacher Tomasz; Ola with her mother Ewa; two maths grades."""
    seeder = system.seeder()
    operator = seeder.sign_in(system.operator)
    school_id = seeder.school(operator, f"SP Klawiatura {uuid.uuid4().hex[:6]}", policy="statutory")
    secretary = seeder.person(operator, school_id, "school_admin", "Irena", "Sekretarska", PASSWORD)
    office = seeder.sign_in(secretary)
    teacher = seeder.person(office, school_id, "teacher", "Tomasz", "Wychowawczy", PASSWORD)
    class_id = seeder.school_class(office, school_id, "3B", "2026/2027", homeroom=teacher)
    maths = seeder.subject(office, "Matematyka", "mat")
    seeder.assign(office, teacher, class_id, maths)
    student = seeder.person(office, school_id, "student", "Ola", "Zielińska", PASSWORD, class_id=class_id)
    parent = seeder.person(office, school_id, "parent", "Ewa", "Zielińska", PASSWORD, children=(student,))
    category = api(system, "POST", "/grade-categories", system.headers(secretary), json={"name": "sprawdzian", "weight": 3, "counts_to_average": True}).json()["id"]
    teacher_headers = system.headers(teacher)
    for value, days in (("4", 20), ("5", 6)):
        api(system, "POST", "/grades", teacher_headers, json={"student_id": student.id, "subject_id": maths, "value": value, "date": days_ago(days), "category_id": category})
    return {"parent": parent, "teacher": teacher}


@pytest.fixture(scope="module")
def family(system):
    return seed_family(system)


class Keyboard:
    """Key presses to whatever has the focus, and what the focus looks like after each."""

    def __init__(self, browser) -> None:
        self.browser = browser
        self.driver = browser.driver

    def press(self, *keys: str) -> None:
        from selenium.webdriver.common.action_chains import ActionChains

        ActionChains(self.driver).send_keys(*keys).perform()

    def type(self, text: str) -> None:
        self.press(text)

    def shift_tab(self) -> None:
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        ActionChains(self.driver).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()

    def focused(self) -> dict | None:
        return self.driver.execute_script(FOCUS_STATE)

    def step(self, back: bool = False) -> dict | None:
        """One Tab (Shift+Tab back); the element it stops at must show that it has the focus."""
        from selenium.webdriver.common.keys import Keys

        self.shift_tab() if back else self.press(Keys.TAB)
        state = self.focused()
        if state is not None:
            assert state["outline"] or state["shadow"], f"no visible focus indicator on {describe(state)}"
            assert state["on_screen"], f"the focused {describe(state)} is off the screen"
        return state

    def tab_to(self, wanted, back: bool = False, limit: int = 60) -> dict:
        """Tabs (forwards or back) until `wanted(state)`; every stop on the way is checked."""
        stops = []
        for _ in range(limit):
            state = self.step(back)
            stops.append(describe(state))
            if state is not None and wanted(state):
                return state
        raise AssertionError(f"never reached with {'Shift+' if back else ''}Tab; stops: {stops}")

    def walk_through(self, inside, back: bool = False, limit: int = 80) -> list[dict]:
        """Tabs into the part of the page where `inside(state)` and on until the focus leaves it
        again: the stops inside, in order. Never leaving within `limit` presses is a keyboard trap."""
        stops: list[dict] = []
        for _ in range(limit):
            state = self.step(back)
            if state is not None and inside(state):
                stops.append(state)
            elif stops:
                return stops
        raise AssertionError(f"the focus never left (a keyboard trap?): {[describe(s) for s in stops[-10:]]}")

    def heading_has_focus(self, text: str) -> None:
        """After a move to another screen the focus is on its heading (the start of its content)."""
        self.browser.heading(text)
        state = self.focused()
        assert state and state["tag"] == "h1" and text in state["text"], f"focus on {describe(state)}, not the heading {text!r}"


def describe(state: dict | None) -> str:
    if state is None:
        return "<nothing>"
    return f"{state['tag']}{'#' + state['id'] if state['id'] else ''}{'[' + state['name'] + ']' if state['name'] else ''} {state['text'][:40]!r}"


def kind(state: dict) -> str:
    return f"{state['tag']}[{state['name']}]" if state["name"] else state["tag"]


def link(text: str, menu: bool = False):
    return lambda state: state["tag"] == "a" and state["text"] == text and state["in_menu"] == menu


def test_a_parent_signs_in_reads_grades_and_writes_with_the_keyboard_only(system, family, browser_factory):
    from selenium.webdriver.common.keys import Keys

    started = time.monotonic()
    browser = browser_factory(system.url, "keyboard")
    keys = Keyboard(browser)
    parent, teacher = family["parent"], family["teacher"]
    skip_link_bottom = "return document.getElementById('skip-link').getBoundingClientRect().bottom"

    # The sign-in page: the skip link is hidden until it has the focus, then shown; it is the
    # first stop of the page (Shift+Tab from the login field passes the language switch only).
    browser.open("/")
    browser.heading("Logowanie")
    assert keys.focused()["name"] == "login"  # the sign-in screen starts in its first field
    assert browser.driver.execute_script(skip_link_bottom) <= 0
    skip = keys.tab_to(lambda state: state["id"] == "skip-link", back=True, limit=3)
    assert skip["text"] == "Przejdź do treści"
    assert browser.driver.execute_script("return document.getElementById('skip-link').getBoundingClientRect().top") >= 0
    keys.press(Keys.ENTER)
    assert keys.focused()["id"] == "main"

    # Sign in: Tab to the fields, type, Enter.
    assert keys.step()["name"] == "login"
    keys.type(parent.login)
    assert keys.step()["name"] == "password"
    keys.type(parent.password)
    browser.shot("login", phone=False)
    keys.press(Keys.ENTER)
    keys.heading_has_focus("Oceny — Ola Zielińska")
    assert browser.driver.execute_script(skip_link_bottom) <= 0

    # Every item of the main menu is a stop of the Tab key, with its focus ring: Shift+Tab from
    # the heading goes back through the menu and the top bar to the skip link.
    menu_texts = [a.text for a in browser.find_all("nav#menu a")]
    back_stops = []
    keys.tab_to(lambda state: back_stops.append(state) or state["id"] == "skip-link", back=True, limit=40)
    assert [s["text"] for s in reversed(back_stops) if s["in_menu"]] == menu_texts
    assert {"lang-switch", "child-switcher"} <= {s["id"] for s in back_stops}

    # From the skip link, Enter and Tab: straight to the screen's content, past the menu.
    keys.press(Keys.ENTER)
    assert keys.focused()["id"] == "main"
    first = keys.step()
    assert first["in_main"] and not first["in_menu"], describe(first)

    # Through the menu to attendance and back to grades, with Tab and Enter only.
    keys.tab_to(link("Frekwencja", menu=True), back=True)
    keys.press(Keys.ENTER)
    keys.heading_has_focus("Frekwencja — Ola Zielińska")
    assert browser.find("nav#menu a[aria-current=page]").text == "Frekwencja"
    keys.tab_to(link("Oceny", menu=True), back=True)
    keys.press(Keys.ENTER)
    keys.heading_has_focus("Oceny — Ola Zielińska")

    # A grade's details open with Enter on the grade.
    chip = keys.tab_to(lambda state: "grade" in state["classes"].split())
    assert chip["text"].startswith("Ocena 4, sprawdzian, waga 3"), describe(chip)  # the earlier grade first
    keys.press(Keys.ENTER)
    browser.text_present(".grade-detail", "sprawdzian")
    assert keys.focused()["element"] == chip["element"]  # the focus stays on the grade
    browser.shot("grades")

    # The language switch with the keyboard: the page (and its lang attribute) changes language,
    # and the focus stays on the switch, not thrown back to the top of the page.
    keys.tab_to(lambda state: state["id"] == "lang-switch", back=True)
    keys.press(Keys.ENTER)
    browser.heading("Grades — Ola Zielińska")
    assert browser.driver.execute_script("return document.documentElement.lang") == "en"
    assert browser.find("#skip-link").get_attribute("textContent") == "Skip to content"
    switch = keys.focused()
    assert switch and switch["id"] == "lang-switch" and switch["text"] == "Przełącz na język polski", describe(switch)
    assert switch["outline"], "the language switch lost its focus ring"
    browser.shot("english", phone=False)
    keys.press(Keys.ENTER)
    browser.heading("Oceny — Ola Zielińska")
    assert browser.driver.execute_script("return document.documentElement.lang") == "pl"
    assert keys.focused()["id"] == "lang-switch"

    # Messages, then the compose form, from the menu.
    keys.tab_to(link("Wiadomości", menu=True))
    keys.press(Keys.ENTER)
    keys.heading_has_focus("Wiadomości")
    keys.tab_to(link("Nowa wiadomość"))
    keys.press(Keys.ENTER)
    keys.heading_has_focus("Nowa wiadomość")

    # No keyboard trap: Tab takes the focus into the form, through every control and out of it;
    # Shift+Tab takes it back through the same controls in reverse and out before it.
    in_form = lambda state: state["in_form"]  # noqa: E731
    forward = keys.walk_through(in_form)
    recipients = browser.find_all("input[name=recipient_ids]")
    assert recipients, "the parent has no one to write to"
    stops = [describe(state) for state in forward]
    assert [kind(state) for state in forward] == [
        "input[recipient-filter]", *["input[recipient_ids]"] * len(recipients), "input[subject]", "textarea[body]", "input[attachments]", "button", "a",
    ], stops
    assert (forward[-2]["text"], forward[-1]["text"]) == ("Wyślij", "Anuluj"), stops
    backward = keys.walk_through(in_form, back=True)
    assert [describe(state) for state in backward] == list(reversed(stops))
    assert keys.focused()["in_menu"]  # out before the form: the last item of the menu

    # Sending with no recipient: the problem is announced (role=alert) and the focus goes to the
    # recipients, whose description now carries the message.
    keys.tab_to(lambda state: state["tag"] == "button" and state["text"] == "Wyślij")
    keys.press(Keys.ENTER)
    browser.text_present(".form-alert", "Wybierz adresata")
    assert browser.find(".form-alert").get_attribute("role") == "alert"
    problem_focus = keys.focused()
    assert problem_focus and problem_focus["in_recipients"] and problem_focus["name"] == "recipient-filter", describe(problem_focus)
    recipients_group = browser.find("fieldset.recipients")
    assert recipients_group.get_attribute("aria-invalid") == "true"
    described = recipients_group.get_attribute("aria-describedby").split()
    assert any("Zaznacz co najmniej jedną osobę" in browser.find(f"#{name}").get_attribute("textContent") for name in described)
    browser.shot("compose-problem")

    # The message, by keyboard: filter, tick with Space, Tab through the fields, Enter on Send.
    keys.type("Wychowawczy")
    box = keys.step()
    assert box["name"] == "recipient_ids" and "Tomasz Wychowawczy" in box["text"], describe(box)
    keys.press(Keys.SPACE)
    assert box["element"].is_selected()
    assert keys.step()["name"] == "subject"
    keys.type("Klawiatura")
    assert keys.step()["name"] == "body"
    keys.type("Dzień dobry, piszę bez myszy. Ewa Zielińska")
    assert keys.step()["name"] == "attachments"
    send = keys.step()
    assert send["tag"] == "button" and send["text"] == "Wyślij", describe(send)
    browser.shot("compose", phone=False)
    keys.press(Keys.ENTER)
    keys.heading_has_focus("Wiadomości")
    browser.text_present(".message-list", "Klawiatura")
    browser.shot("sent")

    # Another folder is the same screen with another query: the focus still moves to the heading
    # (not dropped to the top of the document).
    keys.tab_to(link("Odebrane"))
    keys.press(Keys.ENTER)
    browser.wait(lambda d: browser.find(".tabs a[aria-current=page]").text == "Odebrane", message="the inbox tab current")
    keys.heading_has_focus("Wiadomości")
    assert keys.step()["in_main"]

    # What the parent wrote is what the teacher got.
    inbox = api(system, "GET", "/messages", system.headers(teacher), params={"folder": "inbox"}).json()["items"]
    assert [m["subject"] for m in inbox] == ["Klawiatura"]
    assert browser.console_problems() == []
    assert time.monotonic() - started < 120
