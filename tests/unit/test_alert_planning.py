"""Which SMS each event leads to: only for parents who turned that kind on, naming the child."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from dziennik.attendance.v1 import events_pb2 as attendance_events
from dziennik.gradebook.v1 import events_pb2 as gradebook_events
from platform_kit.bus import Event
from platform_kit.clock import utcnow
from platform_kit.db import Database
from services.notify import alerts
from services.notify.orm import Base, Preference, Sms

CONTEXT = gradebook_events.GradeContext(school_id="s", student_id="kid", student_first_name="Zosia", student_last_name="Żak", subject_name="Matematyka")


@pytest.fixture
def database(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'notify.db'}")
    Base.metadata.create_all(db.engine)
    with db.transaction() as session:
        session.add(Preference(user_id="mum", sms_enabled=True, phone="+48600100200", events=["grade_changed", "term_grade_set", "excuse_decided"], updated_at=utcnow()))
        session.add(Preference(user_id="dad", sms_enabled=True, phone="+48600100201", events=["grade_recorded"], updated_at=utcnow()))
    return db


def contacts(student_id: str) -> alerts.StudentContacts:
    return alerts.StudentContacts("Zosia", "Żak", [alerts.Contact("mum", ""), alerts.Contact("dad", "+48600100299")])


def plan(database, planner, message) -> list[Sms]:
    with database.transaction() as session:
        planner(session, Event(event_id=str(uuid.uuid4()), type="t", message=message), contacts)
    with database.transaction() as session:
        return list(session.scalars(select(Sms).order_by(Sms.created_at)))


def test_a_changed_grade_reaches_only_parents_who_asked_for_changes(database):
    [sms] = plan(database, alerts.plan_grade_change_alerts, gradebook_events.GradeChanged(grade_id="g", context=CONTEXT, old_value="2", new_value="3"))
    assert (sms.recipient_user_id, sms.phone) == ("mum", "+48600100200")
    assert sms.body == "Dziennik: zmieniono ocene Zosia Zak z przedmiotu Matematyka: 2 na 3." and sms.parts == 1


def test_a_comment_only_change_sends_nothing(database):
    assert plan(database, alerts.plan_grade_change_alerts, gradebook_events.GradeChanged(grade_id="g", context=CONTEXT, old_value="4", new_value="4")) == []


def test_a_term_grade_names_its_kind(database):
    [sms] = plan(database, alerts.plan_term_grade_alerts, gradebook_events.TermGradeSet(context=CONTEXT, kind="semester_proposed", value="5"))
    assert sms.body == "Dziennik: Zosia Zak, Matematyka - proponowana ocena srodroczna: 5."


def test_an_excuse_decision_tells_the_parent(database):
    decided = attendance_events.ExcuseDecided(
        excuse_id="e", decision="accepted", student=attendance_events.StudentContext(student_id="kid", student_first_name="Zosia", student_last_name="Żak")
    )
    [sms] = plan(database, alerts.plan_excuse_alerts, decided)
    assert sms.body == "Dziennik: usprawiedliwienie nieobecnosci Zosia Zak zostalo przyjete."


def test_a_new_grade_goes_to_the_school_entered_number_when_no_own_phone(database):
    with database.transaction() as session:
        session.get(Preference, "dad").phone = ""
    [sms] = plan(database, alerts.plan_grade_alerts, gradebook_events.GradeRecorded(grade_id="g", student_id="kid", subject_name="Matematyka", value="5", context=CONTEXT))
    assert (sms.recipient_user_id, sms.phone) == ("dad", "+48600100299")


def extended(until: str, parent: str = "mum") -> Event:
    from dziennik.identity.v1 import events_pb2 as identity_events

    return Event(event_id=str(uuid.uuid4()), type="identity.access_extended.v1",
                 message=identity_events.AccessExtended(school_id="s", parent_id=parent, student_id="kid", valid_until=until, product="extended_access"))


def test_a_reminder_goes_once_before_extended_access_ends_and_a_renewal_replaces_it(database):
    from datetime import date

    with database.transaction() as session:
        session.get(Preference, "mum").events = ["access_expiring"]
        alerts.schedule_access_reminder(session, extended("2027-12-03"), days_before=14)
    assert alerts.queue_due_reminders(database, contacts, date(2027, 11, 18)) == 0  # not yet
    with database.transaction() as session:  # renewed before the reminder went: remind of the new end
        alerts.schedule_access_reminder(session, extended("2028-12-03"), days_before=14)
    assert alerts.queue_due_reminders(database, contacts, date(2027, 11, 19)) == 0  # the old one is gone
    assert alerts.queue_due_reminders(database, contacts, date(2028, 11, 19)) == 1
    assert alerts.queue_due_reminders(database, contacts, date(2028, 11, 20)) == 0  # once
    with database.transaction() as session:
        [sms] = session.scalars(select(Sms)).all()
    assert sms.body == "Dziennik: dostep rozszerzony dla Zosia Zak konczy sie 03.12.2028. Przedluzysz go w zakladce Platnosci."
    assert sms.recipient_user_id == "mum" and sms.parts == 1


def test_a_new_message_alerts_a_recipient_who_asked_for_it_at_their_own_number(database):
    from dziennik.messaging.v1 import events_pb2 as messaging_events

    with database.transaction() as session:
        session.get(Preference, "mum").events = ["message_received"]
    message = messaging_events.MessageSent(message_id="m", school_id="s", sender_name="Ola Polonistka", recipient_id="mum", subject="Wycieczka do Krakowa w przyszły czwartek i piątek")
    [sms] = plan(database, lambda session, event, _contacts: alerts.plan_message_alert(session, event, lambda user_id: True), message)
    assert sms.body == "Dziennik: nowa wiadomosc od Ola Polonistka: Wycieczka do Krakowa w przyszly czwar..."
    assert (sms.phone, sms.encoding, sms.parts) == ("+48600100200", "GSM-7", 1)
    other = messaging_events.MessageSent(message_id="m2", school_id="s", sender_name="X", recipient_id="dad", subject="Y")
    assert len(plan(database, lambda session, event, _contacts: alerts.plan_message_alert(session, event, lambda user_id: True), other)) == 1  # dad did not ask: no second SMS
    third = messaging_events.MessageSent(message_id="m3", school_id="s", sender_name="X", recipient_id="mum", subject="Z")
    assert len(plan(database, lambda session, event, _contacts: alerts.plan_message_alert(session, event, lambda user_id: False), third)) == 1  # policy says no


def test_the_paying_parent_is_thanked_and_reminded_later(database):
    with database.transaction() as session:
        session.get(Preference, "mum").events = ["access_extended"]
    [sms] = plan(database, lambda session, event, lookup: alerts.on_access_extended(session, event, lookup, 14), extended("2027-12-03").message)
    assert sms.body == "Dziennik: dziekujemy! Dostep rozszerzony dla Zosia Zak jest aktywny do 03.12.2027."
    from services.notify.orm import AccessReminder

    with database.transaction() as session:
        [reminder] = session.scalars(select(AccessReminder)).all()
    assert reminder.remind_on.isoformat() == "2027-11-19"


# -- the school's access policy, students who opt in, announcements, the school's character choice ----


def grade_event(student_id: str = "kid") -> gradebook_events.GradeRecorded:
    context = gradebook_events.GradeContext(school_id="s", student_id=student_id, student_first_name="Zosia", student_last_name="Żak", subject_name="Matematyka")
    return gradebook_events.GradeRecorded(grade_id="g", student_id=student_id, subject_name="Matematyka", value="5", context=context)


def plan_with(database, planner, message, lookup) -> list[Sms]:
    with database.transaction() as session:
        planner(session, Event(event_id=str(uuid.uuid4()), type="t", message=message), lookup)
    with database.transaction() as session:
        return list(session.scalars(select(Sms).order_by(Sms.recipient_user_id)))


def test_a_parent_the_policy_does_not_allow_sms_gets_none_however_they_set_it(database):
    def lookup(student_id):
        return alerts.StudentContacts("Zosia", "Żak", [alerts.Contact("mum", "", sms_allowed=False), alerts.Contact("dad", "+48600100299", sms_allowed=False)])

    assert plan_with(database, alerts.plan_grade_alerts, grade_event(), lookup) == []


def test_a_student_who_opted_in_gets_their_own_alert_and_one_who_did_not_gets_none(database):
    with database.transaction() as session:
        session.add(Preference(user_id="kid", sms_enabled=True, phone="+48600100777", events=["grade_recorded"], updated_at=utcnow()))

    def lookup(student_id):
        return alerts.StudentContacts("Zosia", "Żak", [alerts.Contact("dad", "+48600100299")], alerts.Contact("kid", ""))

    sent = plan_with(database, alerts.plan_grade_alerts, grade_event(), lookup)
    assert [(s.recipient_user_id, s.phone) for s in sent] == [("dad", "+48600100201"), ("kid", "+48600100777")]
    with database.transaction() as session:
        session.get(Preference, "kid").sms_enabled = False
    assert len(plan_with(database, alerts.plan_grade_alerts, grade_event(), lookup)) == 3  # dad again, the student not


def announcement_roster(school_id, class_ids):
    assert (school_id, class_ids) == ("s", ["3a", "1b"])
    mum_and_dad = [alerts.Contact("mum", ""), alerts.Contact("dad", "", sms_allowed=False)]
    return [
        alerts.StudentContacts("Zosia", "Żak", mum_and_dad, alerts.Contact("kid", "")),
        alerts.StudentContacts("Staś", "Żak", [alerts.Contact("mum", ""), alerts.Contact("dad", "", sms_allowed=True)], alerts.Contact("kid2", "")),
        alerts.StudentContacts("Ola", "Nowak", [alerts.Contact("other", "+48600100300")]),
    ]


def test_an_announcement_reaches_each_opted_in_parent_once_naming_their_children(database):
    from dziennik.messaging.v1 import events_pb2 as messaging_events

    with database.transaction() as session:
        session.get(Preference, "mum").events = ["announcement_published"]
        session.get(Preference, "dad").events = ["announcement_published"]
    published = messaging_events.AnnouncementPublished(announcement_id="a", school_id="s", title="Zebranie z rodzicami we wtorek o 17:00 w auli szkoły podstawowej nr 1", class_ids=["3a", "1b"])
    sent = plan_with(database, alerts.plan_announcement_alerts, published, announcement_roster)
    # dad: allowed for Staś (paid for one child), so one SMS; "other" did not turn announcements on
    assert [s.recipient_user_id for s in sent] == ["dad", "mum"]
    assert {s.body for s in sent} == {'Dziennik: ogloszenie szkoly (Stas, Zosia): "Zebranie z rodzicami we wtorek o 17:00 w auli szkoly pods...". Szczegoly w dzienniku.'}
    assert all(s.parts == 1 and s.kind == "announcement_published" for s in sent)


def test_a_school_that_chose_polish_characters_gets_them_counted_in_ucs2_parts(database):
    from services.notify.orm import SchoolSmsSettings

    def lookup(student_id):
        return alerts.StudentContacts("Zosia", "Żak", [alerts.Contact("dad", "+48600100299")])

    with database.transaction() as session:
        session.add(SchoolSmsSettings(school_id="s", polish_characters=True, updated_at=utcnow()))
    [sms] = plan_with(database, alerts.plan_grade_alerts, grade_event(), lookup)
    assert sms.body == "Dziennik: Zosia Żak otrzymał(a) ocenę 5 z przedmiotu Matematyka." and (sms.encoding, sms.parts) == ("UCS-2", 1)


def test_an_sms_alerts_add_on_thanks_for_sms_and_schedules_no_access_reminder(database):
    from dziennik.identity.v1 import events_pb2 as identity_events
    from services.notify.orm import AccessReminder

    with database.transaction() as session:
        session.get(Preference, "mum").events = ["access_extended"]
    add_on = identity_events.AccessExtended(school_id="s", parent_id="mum", student_id="kid", valid_until="2027-12-03", product="sms_alerts")
    [sms] = plan(database, lambda session, event, lookup: alerts.on_access_extended(session, event, lookup, 14), add_on)
    assert sms.body == "Dziennik: dziekujemy! Powiadomienia SMS o Zosia Zak sa aktywne do 03.12.2027."
    with database.transaction() as session:
        assert session.scalars(select(AccessReminder)).all() == []


def absence(student_id: str, first: str, lessons: dict[int, str]) -> attendance_events.AbsenceRecorded:
    student = attendance_events.StudentContext(school_id="s", student_id=student_id, student_first_name=first, student_last_name="Żak")
    return attendance_events.AbsenceRecorded(
        student=student, date="2026-12-07", lessons=[attendance_events.AbsentLesson(lesson_id=f"l{n}", lesson_no=n, subject_name=name) for n, name in lessons.items()]
    )


def test_siblings_absent_on_one_day_make_one_sms_for_the_shared_phone(database):
    from datetime import timedelta

    with database.transaction() as session:
        session.get(Preference, "mum").events = ["absence_recorded"]

    def lookup(student_id):
        return alerts.StudentContacts("?", "Żak", [alerts.Contact("mum", "")])

    planner = lambda session, event, contacts: alerts.plan_absence_alerts(session, event, contacts, timedelta(minutes=30))  # noqa: E731
    plan_with(database, planner, absence("kid", "Zosia", {1: "Matematyka"}), lookup)
    plan_with(database, planner, absence("kid", "Zosia", {1: "Matematyka", 2: "Fizyka"}), lookup)
    [sms] = plan_with(database, planner, absence("kid2", "Staś", {3: "WF"}), lookup)
    assert sms.body == "Dziennik: nieobecnosc 07.12: Stas Zak - lekcja 3 (WF); Zosia Zak - lekcje 1 (Matematyka), 2 (Fizyka)."
    assert sms.status == "queued" and sms.send_after.replace(tzinfo=None) > utcnow().replace(tzinfo=None) + timedelta(minutes=29)  # waits for the day's other lessons


# -- several events planned together (the consumer's batches) --------------------------------------


def test_grades_planned_together_ask_for_each_schools_students_once_and_queue_each_grades_sms(database):
    with database.transaction() as session:
        session.add(Preference(user_id="other", sms_enabled=True, phone="", events=["grade_recorded"], updated_at=utcnow()))
    sheets = {
        "kid": alerts.StudentContacts("Zosia", "Żak", [alerts.Contact("mum", ""), alerts.Contact("dad", "+48600100299")]),
        "kid2": alerts.StudentContacts("Staś", "Żak", [alerts.Contact("dad", "+48600100299")]),
        "far": alerts.StudentContacts("Ola", "Nowak", [alerts.Contact("other", "+48600100300")]),
    }
    asked = []

    def of_school(school_id, student_ids):
        asked.append((school_id, student_ids))
        return {student_id: sheets[student_id] for student_id in student_ids}

    far = gradebook_events.GradeRecorded(grade_id="g3", student_id="far", subject_name="Fizyka", value="3")  # no names in the event
    events = [Event(event_id=f"e{n}", type="t", message=message) for n, message in enumerate([grade_event("kid"), grade_event("kid2"), far, grade_event("kid")])]
    events[2] = Event(event_id="e2", type="t", message=far, school_id="s2")

    with database.transaction() as session:
        assert alerts.plan_student_alerts(session, events, alerts.grade_recorded_alert, of_school) == 4
    with database.transaction() as session:
        sent = sorted((s.source_event_id, s.recipient_user_id, s.phone, s.school_id, s.body) for s in session.scalars(select(Sms)))

    assert sorted(asked) == [("s", ["kid", "kid2"]), ("s2", ["far"])]
    assert sent == [
        ("e0", "dad", "+48600100201", "s", "Dziennik: Zosia Zak otrzymal(a) ocene 5 z przedmiotu Matematyka."),
        ("e1", "dad", "+48600100201", "s", "Dziennik: Zosia Zak otrzymal(a) ocene 5 z przedmiotu Matematyka."),  # the event's names win
        ("e2", "other", "+48600100300", "s2", "Dziennik: Ola Nowak otrzymal(a) ocene 3 z przedmiotu Fizyka."),
        ("e3", "dad", "+48600100201", "s", "Dziennik: Zosia Zak otrzymal(a) ocene 5 z przedmiotu Matematyka."),
    ]


def test_changed_grades_planned_together_skip_comment_only_changes(database):
    changed = gradebook_events.GradeChanged(grade_id="g", context=CONTEXT, old_value="2", new_value="3")
    same = gradebook_events.GradeChanged(grade_id="g", context=CONTEXT, old_value="4", new_value="4")
    events = [Event(event_id="changed", type="t", message=changed), Event(event_id="same", type="t", message=same)]

    with database.transaction() as session:
        assert alerts.plan_student_alerts(session, events, alerts.grade_changed_alert, alerts.one_by_one(contacts)) == 1
    with database.transaction() as session:
        [sms] = session.scalars(select(Sms)).all()
    assert (sms.source_event_id, sms.recipient_user_id, sms.status, sms.attempts) == ("changed", "mum", "queued", 0)
