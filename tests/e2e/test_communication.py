"""The Communication section of the API, end to end: who may write to whom, group privacy,
read receipts, threads, attachments, announcements, the calendar and its iCalendar feed,
technical help, and the events on the bus."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pika
import pytest
import requests

from dziennik.messaging.v1 import events_pb2
from tests.conftest import wait_for
from tests.system import api

pytestmark = pytest.mark.e2e

PASSWORD = "Wiadomosci-" + uuid.uuid4().hex[:6]
TODAY = datetime.now(ZoneInfo("Europe/Warsaw")).date()


@pytest.fixture(scope="module")
def observer(system):
    connection = pika.BlockingConnection(pika.URLParameters(system.env["AMQP_URL"]))
    channel = connection.channel()
    queue = f"test.messaging-observer.{uuid.uuid4().hex[:6]}"
    channel.queue_declare(queue, exclusive=True)
    channel.queue_bind(queue, "dziennik.events", routing_key="messaging.#")
    yield channel, queue
    connection.close()


def drain(observer) -> list[tuple[str, bytes]]:
    channel, queue = observer
    seen = []
    while True:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            return seen
        seen.append((properties.type, body))


@pytest.fixture(scope="module")
def school(system, observer):
    """Classes 4A and 4B: Ola teaches Polish in 4A and is its homeroom teacher; Igor teaches in 4B.
    4A has two students with a parent each, 4B one."""
    seeder = system.seeder()
    operator = seeder.sign_in(system.operator)
    school_id = seeder.school(operator, f"Szkoła wiadomości {uuid.uuid4().hex[:6]}")
    secretary = seeder.person(operator, school_id, "school_admin", "Sara", "Sekretarska", PASSWORD)
    office = seeder.sign_in(secretary)
    ola = seeder.person(office, school_id, "teacher", "Ola", "Polonistka", PASSWORD)
    igor = seeder.person(office, school_id, "teacher", "Igor", "Informatyk", PASSWORD)
    principal = seeder.person(office, school_id, "principal", "Dorota", "Dyrektorka", PASSWORD)
    a4 = seeder.school_class(office, school_id, "4A", "2026/2027", homeroom=ola)
    b4 = seeder.school_class(office, school_id, "4B", "2026/2027")
    polish, it = seeder.subject(office, "Język polski"), seeder.subject(office, "Informatyka")
    seeder.assign(office, ola, a4, polish)
    seeder.assign(office, igor, b4, it)
    people = {"secretary": secretary, "ola": ola, "igor": igor, "principal": principal}
    for key, first, last, klass in (("ania", "Ania", "Alfa", a4), ("bartek", "Bartek", "Beta", a4), ("cezary", "Cezary", "Gamma", b4)):
        student = seeder.person(office, school_id, "student", first, last, PASSWORD, class_id=klass)
        people[key] = student
        people[f"{key}_parent"] = seeder.person(office, school_id, "parent", f"Rodzic{first}", last, PASSWORD, children=(student,))
    return {"a4": a4, "b4": b4, "people": people, "headers": {k: system.headers(p) for k, p in people.items()}}


def ids(system, who: dict) -> set[str]:
    answer = api(system, "GET", "/messages/recipients", who)
    assert answer.status_code == 200, answer.text
    return {r["id"] for r in answer.json()}


def test_each_role_may_write_to_exactly_the_right_people(system, school):
    p, h = school["people"], school["headers"]
    parent = ids(system, h["ania_parent"])
    assert parent == {p["ola"].id, p["secretary"].id, p["principal"].id}  # Ania's teacher (and homeroom), the office
    student = ids(system, h["ania"])
    assert student == {p["ola"].id}
    teacher = ids(system, h["ola"])
    assert {p["ania"].id, p["bartek"].id, p["ania_parent"].id, p["bartek_parent"].id, p["igor"].id, p["principal"].id, p["secretary"].id} <= teacher
    assert {f"class:{school['a4']}:parents", f"class:{school['a4']}:students"} <= teacher
    assert p["cezary"].id not in teacher and p["cezary_parent"].id not in teacher and f"class:{school['b4']}:parents" not in teacher
    office = ids(system, h["secretary"])
    assert {p["cezary_parent"].id, f"class:{school['b4']}:parents"} <= office


def test_a_group_message_reaches_each_parent_alone_with_read_receipts_for_the_sender(system, school, observer):
    p, h = school["people"], school["headers"]
    sent = api(system, "POST", "/messages", h["ola"], json={"recipient_ids": [f"class:{school['a4']}:parents"], "subject": "Wycieczka", "body": "Zbiórka o 8:00."})
    assert sent.status_code == 201, sent.text
    message = sent.json()
    assert sorted(r["recipient_id"] for r in message["receipts"]) == sorted([p["ania_parent"].id, p["bartek_parent"].id])

    inbox = api(system, "GET", "/messages", h["ania_parent"], params={"folder": "inbox"}).json()["items"]
    [copy] = [m for m in inbox if m["id"] == message["id"]]
    others = {p["bartek_parent"].id, p["bartek"].id, "Beta", "RodzicBartek"}
    assert copy["receipts"] == [] and not any(o in str(copy) for o in others)  # no other recipient's data
    read = api(system, "GET", f"/messages/{message['id']}", h["ania_parent"]).json()
    assert read["read_at"] and not any(o in str(read) for o in others)
    receipts = {r["recipient_id"]: r["read_at"] for r in api(system, "GET", f"/messages/{message['id']}", h["ola"]).json()["receipts"]}
    assert receipts[p["ania_parent"].id] and receipts[p["bartek_parent"].id] is None
    # Students never see their parents' conversation with the teacher.
    assert all(m["id"] != message["id"] for m in api(system, "GET", "/messages", h["ania"]).json()["items"])
    assert api(system, "GET", f"/messages/{message['id']}", h["ania"]).status_code == 404

    seen: list[tuple[str, bytes]] = []

    def copies():
        seen.extend(drain(observer))
        return [e for e in (events_pb2.MessageSent.FromString(b) for k, b in seen if k == "messaging.message_sent.v1") if e.message_id == message["id"]]

    wait_for(lambda: len(copies()) == 2, timeout=15, message="a MessageSent per recipient")
    assert sorted(e.recipient_id for e in copies()) == sorted([p["ania_parent"].id, p["bartek_parent"].id])


def test_replies_thread_and_folders_and_search(system, school):
    p, h = school["people"], school["headers"]
    first = api(system, "POST", "/messages", h["bartek_parent"], json={"recipient_ids": [p["ola"].id], "subject": "Nieobecność Bartka", "body": "Bartek jutro u dentysty."}).json()
    reply = api(system, "POST", "/messages", h["ola"], json={"recipient_ids": [p["bartek_parent"].id], "subject": "Re: Nieobecność Bartka", "body": "Dziękuję.", "in_reply_to": first["id"]})
    assert reply.status_code == 201 and reply.json()["thread_id"] == first["thread_id"]
    found = api(system, "GET", "/messages", h["ola"], params={"q": "dentysty"}).json()["items"]
    assert [m["id"] for m in found] == [first["id"]]
    assert api(system, "PUT", f"/messages/{first['id']}/archive", h["ola"], json={"archived": True}).status_code == 204
    assert first["id"] in [m["id"] for m in api(system, "GET", "/messages", h["ola"], params={"folder": "archive"}).json()["items"]]
    assert first["id"] not in [m["id"] for m in api(system, "GET", "/messages", h["ola"]).json()["items"]]
    assert reply.json()["id"] in [m["id"] for m in api(system, "GET", "/messages", h["ola"], params={"folder": "sent"}).json()["items"]]


def test_bad_messages_are_refused_and_store_nothing(system, school):
    p, h = school["people"], school["headers"]
    before = len(api(system, "GET", "/messages", h["cezary_parent"], params={"folder": "sent"}).json()["items"])
    for body, field in (
        ({"recipient_ids": [p["ola"].id], "subject": " ", "body": "x"}, "subject"),  # empty subject
        ({"recipient_ids": [str(uuid.uuid4())], "subject": "a", "body": "b"}, "recipient_ids[0]"),  # nobody
        ({"recipient_ids": [p["ola"].id], "subject": "a", "body": "b"}, "recipient_ids[0]"),  # not Cezary's teacher
    ):
        answer = api(system, "POST", "/messages", h["cezary_parent"], json=body)
        assert answer.status_code == 400 and field in answer.json()["errors"], answer.text
    assert len(api(system, "GET", "/messages", h["cezary_parent"], params={"folder": "sent"}).json()["items"]) == before


def test_attachments_have_limits_and_travel_with_the_message(system, school):
    p, h = school["people"], school["headers"]
    pdf = b"%PDF-1.4\n% zaswiadczenie\n"
    uploaded = api(system, "POST", "/messages/attachments", {**h["ania_parent"], "Content-Type": "application/pdf"}, params={"filename": "zwolnienie.pdf"}, data=pdf)
    assert uploaded.status_code == 201, uploaded.text
    forged = api(system, "POST", "/messages/attachments", {**h["ania_parent"], "Content-Type": "application/pdf"}, params={"filename": "x.pdf"}, data=b"MZ\x90\x00 not a pdf")
    assert forged.status_code == 400
    exe = api(system, "POST", "/messages/attachments", {**h["ania_parent"], "Content-Type": "application/x-msdownload"}, params={"filename": "x.exe"}, data=b"MZ")
    assert exe.status_code == 415
    huge = api(system, "POST", "/messages/attachments", {**h["ania_parent"], "Content-Type": "application/pdf"}, params={"filename": "big.pdf"}, data=b"%PDF" + b"0" * (11 * 1024 * 1024))
    assert huge.status_code == 413
    sent = api(system, "POST", "/messages", h["ania_parent"], json={"recipient_ids": [p["ola"].id], "subject": "Zwolnienie", "body": "W załączniku.", "attachment_ids": [uploaded.json()["id"]]})
    assert sent.status_code == 201
    [attachment] = api(system, "GET", f"/messages/{sent.json()['id']}", h["ola"]).json()["attachments"]
    download = api(system, "GET", f"/messages/attachments/{attachment['id']}", h["ola"])
    assert download.status_code == 200 and download.content == pdf
    assert api(system, "GET", f"/messages/attachments/{attachment['id']}", h["bartek_parent"]).status_code == 404


def test_announcements_reach_their_classes_with_read_state(system, school, observer):
    h = school["headers"]
    whole = api(system, "POST", "/announcements", h["principal"], json={"title": "Dzień Edukacji", "body": "Zajęcia do 11:00."})
    only_4a = api(system, "POST", "/announcements", h["ola"], json={"title": "Zebranie 4A", "body": "We wtorek.", "class_ids": [school["a4"]]})
    assert whole.status_code == 201 and only_4a.status_code == 201
    assert api(system, "POST", "/announcements", h["ola"], json={"title": "4B", "body": "x", "class_ids": [school["b4"]]}).status_code == 403
    assert api(system, "POST", "/announcements", h["ania_parent"], json={"title": "x", "body": "y"}).status_code == 403
    expired = api(system, "POST", "/announcements", h["principal"], json={"title": "Stare", "body": "x", "valid_from": (TODAY - timedelta(days=9)).isoformat(), "valid_until": (TODAY - timedelta(days=2)).isoformat()})
    assert expired.status_code == 201

    def titles(who):
        return {a["title"]: a["read_at"] for a in api(system, "GET", "/announcements", school["headers"][who]).json()["items"]}

    assert set(titles("ania_parent")) >= {"Dzień Edukacji", "Zebranie 4A"} and "Stare" not in titles("ania_parent")
    assert "Zebranie 4A" not in titles("cezary_parent")
    assert api(system, "POST", f"/announcements/{only_4a.json()['id']}/read", h["ania_parent"]).status_code == 204
    assert titles("ania_parent")["Zebranie 4A"] is not None and titles("bartek_parent")["Zebranie 4A"] is None
    assert api(system, "POST", f"/announcements/{only_4a.json()['id']}/read", h["cezary_parent"]).status_code == 404
    wait_for(lambda: any(k == "messaging.announcement_published.v1" for k, _ in drain(observer)), timeout=15, message="AnnouncementPublished")


def test_the_calendar_warns_about_too_many_tests_and_feeds_an_ical_subscription(system, school, observer):
    h = school["headers"]
    monday = TODAY + timedelta(days=7 - TODAY.weekday())
    warnings = []
    for day in range(4):
        answer = api(system, "POST", "/calendar/events", h["ola"], json={"kind": "test", "title": f"Sprawdzian {day + 1}", "date": (monday + timedelta(days=day)).isoformat(), "class_id": school["a4"]})
        assert answer.status_code == 201, answer.text
        warnings.append(answer.json()["warnings"])
    assert warnings[:3] == [[], [], []] and warnings[3]  # the fourth test that week gets a warning
    assert api(system, "GET", "/calendar/settings", h["ola"]).json() == {"tests_per_week": 3}
    assert api(system, "PUT", "/calendar/settings", h["ola"], json={"tests_per_week": 2}).status_code == 403
    assert api(system, "PUT", "/calendar/settings", h["secretary"], json={"tests_per_week": 5}).json() == {"tests_per_week": 5}
    fifth = api(system, "POST", "/calendar/events", h["ola"], json={"kind": "test", "title": "Sprawdzian 5", "date": (monday + timedelta(days=4)).isoformat(), "class_id": school["a4"]})
    assert fifth.json()["warnings"] == []  # 4 so far, the school now allows 5
    assert api(system, "POST", "/calendar/events", h["ola"], json={"kind": "test", "title": "x", "date": monday.isoformat(), "class_id": school["b4"]}).status_code == 403
    meeting = api(system, "POST", "/calendar/events", h["secretary"], json={"kind": "meeting", "title": "Wywiadówka", "date": (monday + timedelta(days=2)).isoformat()})
    assert meeting.status_code == 201

    mine = api(system, "GET", "/calendar", h["ania"], params={"from": monday.isoformat(), "to": (monday + timedelta(days=6)).isoformat()}).json()["items"]
    assert {e["title"] for e in mine} >= {"Sprawdzian 1", "Wywiadówka"}
    assert "Sprawdzian 1" not in {e["title"] for e in api(system, "GET", "/calendar", h["cezary"], params={"from": monday.isoformat()}).json()["items"]}

    url = api(system, "POST", "/me/calendar-feed", h["ania_parent"]).json()["url"]
    path = url[url.index("/api/v1"):]
    ics = requests.get(f"{system.url}{path}", timeout=10)
    assert ics.status_code == 200 and ics.headers["Content-Type"].startswith("text/calendar")
    parsed = icalendar.Calendar.from_ical(ics.content)
    summaries = {str(e.get("summary")) for e in parsed.walk("VEVENT")}
    assert {"Sprawdzian: Sprawdzian 1", "Zebranie: Wywiadówka"} <= summaries
    assert api(system, "DELETE", "/me/calendar-feed", h["ania_parent"]).status_code == 204
    assert requests.get(f"{system.url}{path}", timeout=10).status_code == 404  # revoked
    wait_for(lambda: any(k == "messaging.calendar_event_scheduled.v1" for k, _ in drain(observer)), timeout=15, message="CalendarEventScheduled")


def test_technical_help_goes_to_the_secretary_and_on_to_the_operator(system, school):
    h = school["headers"]
    ticket = api(system, "POST", "/support/tickets", h["bartek_parent"], json={"subject": "Nie widzę planu", "body": "Po zalogowaniu pusta strona."})
    assert ticket.status_code == 201 and ticket.json()["status"] == "open"
    tid = ticket.json()["id"]
    assert tid in [t["id"] for t in api(system, "GET", "/support/tickets", h["secretary"]).json()["items"]]
    assert api(system, "GET", f"/support/tickets/{tid}", h["ania_parent"]).status_code == 404
    answered = api(system, "POST", f"/support/tickets/{tid}/replies", h["secretary"], json={"body": "Proszę odświeżyć stronę."})
    assert answered.status_code == 201 and answered.json()["status"] == "answered" and len(answered.json()["posts"]) == 2
    assert api(system, "PATCH", f"/support/tickets/{tid}", h["bartek_parent"], json={"escalated": True}).status_code == 403
    escalated = api(system, "PATCH", f"/support/tickets/{tid}", h["secretary"], json={"escalated": True})
    assert escalated.status_code == 200 and escalated.json()["escalated"] is True
    closed = api(system, "PATCH", f"/support/tickets/{tid}", h["bartek_parent"], json={"status": "closed"})
    assert closed.json()["status"] == "closed"
    assert api(system, "POST", f"/support/tickets/{tid}/replies", h["bartek_parent"], json={"body": "jeszcze"}).status_code == 409
    assert api(system, "POST", "/support/tickets", h["bartek_parent"], json={"subject": "", "body": "x"}).status_code == 400
