"""What attendance does: timetables and lessons, marking attendance, statistics, excuses and the
homeroom teacher's meeting report — each checked against who is asking."""
from __future__ import annotations

import re
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dziennik.attendance.v1 import events_pb2
from platform_kit.auth import Principal
from platform_kit.clock import SCHOOL_TIME
from platform_kit.clock import parse_day as _day
from platform_kit.clock import school_today as today
from platform_kit.clock import utcnow as _now
from platform_kit.bus import EventType, record_event
from platform_kit.db import Database
from platform_kit.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from services.attendance import rules
from services.attendance.orm import AttendanceMark, AttendanceType, Excuse, HistoryEntry, Lesson, SchoolSettings, TimetableEntry

ABSENCE_RECORDED = EventType("attendance.absence_recorded.v1", events_pb2.AbsenceRecorded)
EXCUSE_SUBMITTED = EventType("attendance.excuse_submitted.v1", events_pb2.ExcuseSubmitted)
EXCUSE_DECIDED = EventType("attendance.excuse_decided.v1", events_pb2.ExcuseDecided)
STAFF = ("teacher", "school_admin", "principal")


def school_year_start(day: date) -> date:
    return date(day.year if day.month >= 9 else day.year - 1, 9, 1)


# -- what other services tell attendance ------------------------------------------------------------


@dataclass(frozen=True)
class Student:
    id: str
    school_id: str
    class_id: str
    parent_ids: frozenset[str]
    first_name: str = ""
    last_name: str = ""


@dataclass(frozen=True)
class Roster:
    class_id: str
    school_id: str
    name: str
    school_year: str
    homeroom_teacher_id: str
    school_name: str
    students: list[tuple[str, str, str]]  # (id, first name, last name)


@dataclass(frozen=True)
class Facts:
    """What a staff member teaches and leads; what a parent's children are."""

    assignments: frozenset[tuple[str, str]]
    homeroom_class_ids: frozenset[str]
    children: frozenset[str]

    def teaches_class(self, class_id: str) -> bool:
        return class_id in self.homeroom_class_ids or any(c == class_id for c, _ in self.assignments)


class Directory(Protocol):
    """identity and gradebook, as attendance needs them."""

    def student(self, student_id: str) -> Student | None: ...

    def roster(self, class_id: str) -> Roster | None: ...

    def facts(self, user_id: str) -> Facts: ...

    def subject_name(self, subject_id: str) -> str | None: ...


@dataclass(frozen=True)
class Settings:
    excuse_deadline_days: int = 7
    adult_students_may_excuse: bool = False
    lesson_hours: tuple[str, ...] = rules.DEFAULT_LESSON_HOURS


@dataclass(frozen=True)
class Summary:
    percent_present: Decimal | None
    counts: dict[str, int]


@dataclass(frozen=True)
class MarkRecord:
    mark: AttendanceMark
    history: list[HistoryEntry]


@dataclass(frozen=True)
class AttendanceRecords:
    """Lessons with marks and excuses, each with every state it has been in (exports)."""

    school_id: str
    school_year: str
    lessons: list[tuple[Lesson, list[MarkRecord]]]
    excuses: list[tuple[Excuse, list[HistoryEntry]]]
    types: list[AttendanceType]


_SCHOOL_YEAR = re.compile(r"^(\d{4})/(\d{4})$")
_IN_BATCH = 500  # ids per IN (…) when reading histories, well under every database's limit of parameters


class Attendance:
    def __init__(self, database: Database, directory: Directory) -> None:
        self.database = database
        self.directory = directory

    # -- settings and types ---------------------------------------------------------------------------

    def settings_of(self, school_id: str) -> Settings:
        with self.database.transaction() as session:
            return _settings(session, school_id)

    def update_settings(self, caller: Principal, settings: Settings) -> Settings:
        _require_admin(caller)
        problems = {}
        if settings.excuse_deadline_days not in range(1, 31):
            problems["excuse_deadline_days"] = "Termin usprawiedliwienia: od 1 do 30 dni (zwykle 7 lub 14)."
        if not 1 <= len(settings.lesson_hours) <= 14 or not all(_valid_hours(h) for h in settings.lesson_hours):
            problems["lesson_hours"] = "Od 1 do 14 lekcji, każda jako GG:MM-GG:MM."
        if problems:
            raise InvalidArgument("niepoprawne ustawienia frekwencji", field_errors=problems)
        with self.database.transaction() as session:
            row = session.get(SchoolSettings, caller.school_id) or SchoolSettings(school_id=caller.school_id)
            row.excuse_deadline_days = settings.excuse_deadline_days
            row.adult_students_may_excuse = settings.adult_students_may_excuse
            row.lesson_hours = list(settings.lesson_hours)
            session.add(row)
        return settings

    def create_type(self, caller: Principal, code: str, name: str, counts_as: str) -> AttendanceType:
        _require_admin(caller)
        code, name = code.strip().lower(), name.strip()
        problems = {}
        if not code or len(code) > 20 or code in rules.STATUSES:
            problems["code"] = "Kod od 1 do 20 znaków, inny niż statusy standardowe."
        if not 1 <= len(name) <= 60:
            problems["name"] = "Nazwa od 1 do 60 znaków."
        if counts_as not in rules.STATUSES:
            problems["counts_as"] = f"Jeden ze statusów: {', '.join(rules.STATUSES)}."
        if problems:
            raise InvalidArgument("niepoprawny typ frekwencji", field_errors=problems)
        with self.database.transaction() as session:
            if session.scalar(select(AttendanceType).where(AttendanceType.school_id == caller.school_id, AttendanceType.code == code)):
                raise Conflict("taki typ już istnieje")
            kind = AttendanceType(school_id=caller.school_id, code=code, name=name, counts_as=counts_as)
            session.add(kind)
        return kind

    def list_types(self, caller: Principal) -> list[AttendanceType]:
        with self.database.transaction() as session:
            return list(session.scalars(select(AttendanceType).where(AttendanceType.school_id == caller.school_id).order_by(AttendanceType.code)))

    # -- timetable and lessons --------------------------------------------------------------------------

    def set_timetable(self, caller: Principal, class_id: str, school_year: str, slots: list[rules.Slot], valid_from: str = "") -> int:
        """Replace the class's timetable from `valid_from` (default today); lessons already held
        or marked stay, unmarked future lessons of the old timetable go."""
        _require_admin(caller)
        roster = self.roster(caller, class_id)
        start = _day(valid_from, "valid_from") if valid_from else today()
        with self.database.transaction() as session:
            settings = _settings(session, roster.school_id)
            rules.check_timetable(slots, len(settings.lesson_hours))
            subjects = {s.subject_id: self.directory.subject_name(s.subject_id) for s in slots}
            unknown = [i for i, s in enumerate(slots) if not subjects[s.subject_id]]
            if unknown:
                raise InvalidArgument("nieznany przedmiot", field_errors={f"entries[{i}].subject_id": "Nie ma takiego przedmiotu w szkole." for i in unknown})
            for entry in session.scalars(select(TimetableEntry).where(TimetableEntry.class_id == class_id, TimetableEntry.valid_to.is_(None))):
                entry.valid_to = start - timedelta(days=1)
            marked = select(AttendanceMark.lesson_id)
            for lesson in session.scalars(select(Lesson).where(Lesson.class_id == class_id, Lesson.date >= start, Lesson.id.not_in(marked))):
                session.delete(lesson)
            for slot in slots:
                session.add(
                    TimetableEntry(
                        id=str(uuid.uuid4()), school_id=roster.school_id, class_id=class_id, school_year=school_year, weekday=slot.weekday,
                        lesson_no=slot.lesson_no, subject_id=slot.subject_id, teacher_id=slot.teacher_id, room=slot.room[:20], valid_from=start,
                    )
                )
        return len(slots)

    def week(self, caller: Principal, *, class_id: str = "", teacher_id: str = "", student_id: str = "", day: str = "") -> tuple[date, list[Lesson]]:
        """A week of lessons (from the timetable, with substitutions and cancellations) of a
        class, a teacher or a student."""
        monday = rules.monday_of(_day(day, "day") if day else today())
        sunday = monday + timedelta(days=6)
        if student_id:
            class_id = self.visible_student(caller, student_id).class_id
        elif class_id:
            roster = self.roster(caller, class_id)
            if not caller.has_any_role(*STAFF):
                raise NotFound("nie ma takiej klasy")
            class_id = roster.class_id
        elif teacher_id:
            if teacher_id != caller.user_id and not caller.has_any_role("school_admin", "principal"):
                raise NotFound("nie ma takiego nauczyciela")
        else:
            raise InvalidArgument("czyj plan?", field_errors={"class_id": "Podaj klasę, nauczyciela albo ucznia."})
        with self.database.transaction() as session:
            classes = [class_id] if class_id else list(
                session.scalars(select(TimetableEntry.class_id).where(TimetableEntry.teacher_id == teacher_id, TimetableEntry.school_id == caller.school_id).distinct())
            )
        for klass in classes:
            self._materialise(klass, monday)
        with self.database.transaction() as session:
            query = select(Lesson).where(Lesson.date >= monday, Lesson.date <= sunday)
            if class_id:
                query = query.where(Lesson.class_id == class_id)
            else:
                query = query.where(or_(Lesson.teacher_id == teacher_id, Lesson.substitute_teacher_id == teacher_id), Lesson.school_id == caller.school_id)
            return monday, list(session.scalars(query.order_by(Lesson.date, Lesson.lesson_no)))

    def _materialise(self, class_id: str, monday: date) -> None:
        """Create the week's lessons the timetable gives, once (a lesson is unique per class, day and number)."""
        with self.database.transaction() as session:
            entries = list(
                session.scalars(
                    select(TimetableEntry).where(
                        TimetableEntry.class_id == class_id, TimetableEntry.valid_from <= monday + timedelta(days=6),
                        or_(TimetableEntry.valid_to.is_(None), TimetableEntry.valid_to >= monday),
                    )
                )
            )
            existing = {(l.date, l.lesson_no) for l in session.scalars(select(Lesson).where(Lesson.class_id == class_id, Lesson.date >= monday, Lesson.date <= monday + timedelta(days=6)))}
            for entry in entries:
                day = monday + timedelta(days=entry.weekday - 1)
                if day < entry.valid_from or (entry.valid_to and day > entry.valid_to) or (day, entry.lesson_no) in existing:
                    continue
                try:
                    with session.begin_nested():  # a parallel request may create the same lesson
                        session.add(
                            Lesson(
                                id=str(uuid.uuid4()), school_id=entry.school_id, class_id=class_id, subject_id=entry.subject_id,
                                subject_name=self.directory.subject_name(entry.subject_id) or "", teacher_id=entry.teacher_id, date=day,
                                lesson_no=entry.lesson_no, topic="", room=entry.room, cancelled=False,
                            )
                        )
                except IntegrityError:
                    pass

    def open_lesson(self, caller: Principal, class_id: str, subject_id: str, day: str, lesson_no: int, topic: str = "") -> Lesson:
        """A lesson outside the timetable, opened by a teacher of that class and subject."""
        facts = self._require_teacher(caller)
        if (class_id, subject_id) not in facts.assignments:
            raise PermissionDenied("lekcję otwiera nauczyciel, który uczy tego przedmiotu w tej klasie")
        roster = self.roster(caller, class_id)
        lesson_day = _day(day, "date")
        with self.database.transaction() as session:
            if not 1 <= lesson_no <= len(_settings(session, roster.school_id).lesson_hours):
                raise InvalidArgument("niepoprawny numer lekcji", field_errors={"lesson_no": "Numer lekcji z planu godzin szkoły."})
        self._materialise(class_id, rules.monday_of(lesson_day))
        with self.database.transaction() as session:
            existing = session.scalar(select(Lesson).where(Lesson.class_id == class_id, Lesson.date == lesson_day, Lesson.lesson_no == lesson_no))
            if existing is not None:
                if existing.subject_id == subject_id and caller.user_id in (existing.teacher_id, existing.substitute_teacher_id) and not existing.cancelled:
                    existing.topic = topic.strip() or existing.topic
                    return existing
                raise Conflict("o tej porze ta klasa ma już inną lekcję")
            lesson = Lesson(
                id=str(uuid.uuid4()), school_id=roster.school_id, class_id=class_id, subject_id=subject_id,
                subject_name=self.directory.subject_name(subject_id) or "", teacher_id=caller.user_id, date=lesson_day,
                lesson_no=lesson_no, topic=topic.strip()[:500], room="", cancelled=False,
            )
            session.add(lesson)
            return lesson

    def change_lesson(self, caller: Principal, lesson_id: str, *, topic: str | None, substitute_teacher_id: str | None, cancelled: bool | None) -> Lesson:
        """The secretary arranges substitutions and cancellations; the lesson's teacher writes its topic."""
        with self.database.transaction() as session:
            lesson = self._lesson(session, caller, lesson_id)
            is_admin = "school_admin" in caller.roles
            if (substitute_teacher_id is not None or cancelled is not None) and not is_admin:
                raise PermissionDenied("zastępstwa i odwołania lekcji ustala sekretariat")
            if topic is not None:
                if not (is_admin or caller.user_id in (lesson.teacher_id, lesson.substitute_teacher_id)):
                    raise PermissionDenied("temat wpisuje nauczyciel prowadzący lekcję")
                lesson.topic = topic.strip()[:500]
            if substitute_teacher_id is not None:
                lesson.substitute_teacher_id = substitute_teacher_id or None
            if cancelled is not None:
                lesson.cancelled = cancelled
            return lesson

    def lesson_with_marks(self, caller: Principal, lesson_id: str) -> tuple[Lesson, list[AttendanceMark]]:
        with self.database.transaction() as session:
            lesson = self._lesson(session, caller, lesson_id)
            return lesson, list(session.scalars(select(AttendanceMark).where(AttendanceMark.lesson_id == lesson.id)))

    # -- marking ------------------------------------------------------------------------------------------

    def mark(self, caller: Principal, lesson_id: str, entries: list[tuple[str, str]]) -> tuple[Lesson, list[AttendanceMark]]:
        """Attendance of (part of) the class at a lesson; marking again changes the record and
        keeps its history. Only the lesson's teacher, a substitute or the homeroom teacher marks."""
        facts = self._require_teacher(caller)
        with self.database.transaction() as session:
            lesson = self._lesson(session, caller, lesson_id)
        if caller.user_id not in (lesson.teacher_id, lesson.substitute_teacher_id) and lesson.class_id not in facts.homeroom_class_ids:
            raise PermissionDenied("frekwencję sprawdza nauczyciel prowadzący lekcję, zastępca lub wychowawca")
        if lesson.cancelled:
            raise Conflict("lekcja została odwołana")
        if lesson.date > today():
            raise InvalidArgument("lekcja w przyszłości", field_errors={"lesson_id": "Frekwencję sprawdza się w dniu lekcji lub później."})
        roster = self.roster(caller, lesson.class_id)
        in_class = {s[0]: s for s in roster.students}
        with self.database.transaction() as session:
            types = _type_categories(session, lesson.school_id)
            problems = {}
            for index, (student_id, status) in enumerate(entries):
                if student_id not in in_class:
                    problems[f"entries[{index}].student_id"] = "Ten uczeń nie należy do klasy tej lekcji."
                if status not in rules.STATUSES and status not in types:
                    problems[f"entries[{index}].status"] = f"Status: {', '.join(rules.STATUSES + tuple(types))}."
            if len({s for s, _ in entries}) != len(entries):
                problems["entries"] = "Każdy uczeń najwyżej raz."
            if problems:
                raise InvalidArgument("niepoprawna lista obecności", field_errors=problems)
            now = _now()
            newly_absent = []
            for student_id, status in entries:
                mark = session.get(AttendanceMark, (student_id, lesson.id), with_for_update=True)
                old = mark.status if mark else None
                if old == status:
                    continue
                if mark is None:
                    mark = AttendanceMark(student_id=student_id, lesson_id=lesson.id)
                    session.add(mark)
                mark.status, mark.marked_by, mark.marked_at = status, caller.user_id, now
                session.add(HistoryEntry(entity="mark", entity_id=f"{lesson.id}:{student_id}", action="marked" if old is None else "changed",
                                         actor_id=caller.user_id, at=now, old={"status": old} if old else None, new={"status": status}))
                if types.get(status, status) in rules.ABSENCES:
                    newly_absent.append(student_id)
            session.flush()
            for student_id in newly_absent:
                _, first, last = in_class[student_id]
                record_event(
                    session, ABSENCE_RECORDED,
                    events_pb2.AbsenceRecorded(
                        student=events_pb2.StudentContext(school_id=lesson.school_id, student_id=student_id, student_first_name=first, student_last_name=last, class_id=lesson.class_id),
                        date=lesson.date.isoformat(),
                        lessons=[
                            events_pb2.AbsentLesson(lesson_id=l.id, lesson_no=l.lesson_no, subject_name=l.subject_name, status=types.get(m.status, m.status))
                            for l, m in _absences_of_day(session, student_id, lesson.class_id, lesson.date, types)
                        ],
                    ),
                    school_id=lesson.school_id, subject=student_id,
                )
            return lesson, list(session.scalars(select(AttendanceMark).where(AttendanceMark.lesson_id == lesson.id)))

    # -- reading and statistics ------------------------------------------------------------------------------

    def student_records(self, caller: Principal, student_id: str, start: str = "", end: str = "") -> list[tuple[Lesson, AttendanceMark]]:
        student = self.visible_student(caller, student_id)
        first, last = period(start, end)
        with self.database.transaction() as session:
            return list(
                session.execute(
                    select(Lesson, AttendanceMark)
                    .join(AttendanceMark, AttendanceMark.lesson_id == Lesson.id)
                    .where(AttendanceMark.student_id == student.id, Lesson.date >= first, Lesson.date <= last, Lesson.cancelled.is_(False))
                    .order_by(Lesson.date, Lesson.lesson_no)
                ).tuples()
            )

    def student_summary(self, caller: Principal, student_id: str, start: str = "", end: str = "") -> dict[str, object]:
        records = self.student_records(caller, student_id, start, end)
        with self.database.transaction() as session:
            types = _type_categories(session, records[0][0].school_id) if records else {}
        groups: dict[str, dict[str, list[str]]] = {"by_subject": defaultdict(list), "by_month": defaultdict(list), "by_semester": defaultdict(list)}
        for lesson, mark in records:
            groups["by_subject"][lesson.subject_id].append(mark.status)
            groups["by_month"][lesson.date.strftime("%Y-%m")].append(mark.status)
            groups["by_semester"]["2" if date(school_year_start(lesson.date).year + 1, 2, 1) <= lesson.date else "1"].append(mark.status)
        result: dict[str, object] = {"overall": _summary([m.status for _, m in records], types)}
        for name, grouped in groups.items():
            result[name] = {key: _summary(statuses, types) for key, statuses in sorted(grouped.items())}
        return result

    def class_summary(self, caller: Principal, class_id: str, start: str = "", end: str = "") -> tuple[Summary, dict[str, Summary]]:
        roster = self.roster(caller, class_id)
        if not caller.has_any_role(*STAFF):
            raise NotFound("nie ma takiej klasy")
        first, last = period(start, end)
        with self.database.transaction() as session:
            types = _type_categories(session, roster.school_id)
            rows = session.execute(
                select(AttendanceMark.student_id, AttendanceMark.status)
                .join(Lesson, Lesson.id == AttendanceMark.lesson_id)
                .where(Lesson.class_id == class_id, Lesson.date >= first, Lesson.date <= last, Lesson.cancelled.is_(False))
            ).all()
        by_student: dict[str, list[str]] = defaultdict(list)
        for student_id, status in rows:
            by_student[student_id].append(status)
        return _summary([s for _, s in rows], types), {sid: _summary(statuses, types) for sid, statuses in sorted(by_student.items())}

    # -- excuses --------------------------------------------------------------------------------------------------

    def submit_excuse(self, caller: Principal, student_id: str, lesson_ids: list[str], days: list[str], reason: str) -> Excuse:
        """A parent excuses absences (chosen lessons or whole days) within the school's deadline."""
        student = self.visible_student(caller, student_id)
        settings = self.settings_of(student.school_id)
        if caller.user_id not in student.parent_ids and not (caller.user_id == student.id and settings.adult_students_may_excuse):
            raise PermissionDenied("usprawiedliwia rodzic ucznia")
        reason = reason.strip()
        if not 3 <= len(reason) <= 1000:
            raise InvalidArgument("brak powodu", field_errors={"reason": "Napisz powód nieobecności (od 3 do 1000 znaków)."})
        if not lesson_ids and not days:
            raise InvalidArgument("nic do usprawiedliwienia", field_errors={"lesson_ids": "Wybierz lekcje albo całe dni."})
        wanted_days = [_day(d, f"days[{i}]") for i, d in enumerate(days)]
        with self.database.transaction() as session:
            chosen: dict[str, tuple[Lesson, AttendanceMark]] = {}
            problems = {}
            for index, lesson_id in enumerate(lesson_ids):
                row = session.execute(
                    select(Lesson, AttendanceMark).join(AttendanceMark, AttendanceMark.lesson_id == Lesson.id)
                    .where(Lesson.id == lesson_id, AttendanceMark.student_id == student.id)
                ).first()
                if row is None or row[1].status != "absent":
                    problems[f"lesson_ids[{index}]"] = "Na tej lekcji uczeń nie ma nieobecności do usprawiedliwienia."
                else:
                    chosen[row[0].id] = tuple(row)
            for day in wanted_days:
                for lesson, mark in session.execute(
                    select(Lesson, AttendanceMark).join(AttendanceMark, AttendanceMark.lesson_id == Lesson.id)
                    .where(Lesson.date == day, AttendanceMark.student_id == student.id, AttendanceMark.status == "absent")
                ).tuples():
                    chosen[lesson.id] = (lesson, mark)
            if days and not chosen and not problems:
                problems["days"] = "W tych dniach uczeń nie ma nieobecności do usprawiedliwienia."
            late = [l for l, _ in chosen.values() if not rules.within_deadline(l.date, today(), settings.excuse_deadline_days)]
            if late:
                problems["lesson_ids"] = f"Nieobecność usprawiedliwia się w ciągu {settings.excuse_deadline_days} dni."
            if problems:
                raise InvalidArgument("nie można usprawiedliwić", field_errors=problems)
            excuse = Excuse(
                id=str(uuid.uuid4()), school_id=student.school_id, class_id=student.class_id, student_id=student.id, reason=reason,
                status=rules.PENDING, lesson_ids=sorted(chosen), submitted_by=caller.user_id, submitted_at=_now(),
            )
            session.add(excuse)
            session.add(HistoryEntry(entity="excuse", entity_id=excuse.id, action="submitted", actor_id=caller.user_id, at=excuse.submitted_at, old=None, new={"status": rules.PENDING, "lessons": excuse.lesson_ids}))
            roster = self.directory.roster(student.class_id)
            record_event(
                session, EXCUSE_SUBMITTED,
                events_pb2.ExcuseSubmitted(excuse_id=excuse.id, student=_student_context(student), submitted_by=caller.user_id, lesson_ids=excuse.lesson_ids,
                                           homeroom_teacher_id=roster.homeroom_teacher_id if roster else ""),
                school_id=student.school_id, subject=student.id,
            )
            return excuse

    def decide_excuse(self, caller: Principal, excuse_id: str, decision: str) -> Excuse:
        """The homeroom teacher accepts or rejects; acceptance turns those absences into excused."""
        with self.database.transaction() as session:
            excuse = session.get(Excuse, excuse_id, with_for_update=True) if excuse_id else None
            if excuse is None or excuse.school_id != caller.school_id or not caller.has_any_role(*STAFF):
                raise NotFound("nie ma takiego usprawiedliwienia")
            if "teacher" not in caller.roles or excuse.class_id not in self.directory.facts(caller.user_id).homeroom_class_ids:
                raise PermissionDenied("usprawiedliwienia rozpatruje wychowawca klasy")
            excuse.status = rules.decide(excuse.status, decision)
            excuse.decided_by, excuse.decided_at = caller.user_id, _now()
            session.add(HistoryEntry(entity="excuse", entity_id=excuse.id, action=decision, actor_id=caller.user_id, at=excuse.decided_at, old={"status": rules.PENDING}, new={"status": decision}))
            if decision == rules.ACCEPTED:
                for mark in session.scalars(select(AttendanceMark).where(AttendanceMark.student_id == excuse.student_id, AttendanceMark.lesson_id.in_(excuse.lesson_ids))):
                    if mark.status == "absent":
                        session.add(HistoryEntry(entity="mark", entity_id=f"{mark.lesson_id}:{mark.student_id}", action="excused", actor_id=caller.user_id, at=excuse.decided_at, old={"status": "absent"}, new={"status": "excused", "excuse_id": excuse.id}))
                        mark.status, mark.marked_by, mark.marked_at = "excused", caller.user_id, excuse.decided_at
            student = self.directory.student(excuse.student_id)
            record_event(
                session, EXCUSE_DECIDED,
                events_pb2.ExcuseDecided(excuse_id=excuse.id, student=_student_context(student) if student else None, decision=decision,
                                         decided_by=caller.user_id, submitted_by=excuse.submitted_by, lesson_ids=excuse.lesson_ids),
                school_id=excuse.school_id, subject=excuse.student_id,
            )
            return excuse

    def excuses(self, caller: Principal, status: str = "") -> list[Excuse]:
        """A parent's children's, a student's own, a homeroom teacher's classes', the school's for the secretary."""
        query = select(Excuse).where(Excuse.school_id == caller.school_id)
        if caller.has_any_role("school_admin", "principal"):
            pass
        elif "teacher" in caller.roles:
            query = query.where(Excuse.class_id.in_(self.directory.facts(caller.user_id).homeroom_class_ids))
        elif "parent" in caller.roles:
            query = query.where(Excuse.student_id.in_(self.directory.facts(caller.user_id).children))
        else:
            query = query.where(Excuse.student_id == caller.user_id)
        if status:
            query = query.where(Excuse.status == status)
        with self.database.transaction() as session:
            return list(session.scalars(query.order_by(Excuse.submitted_at.desc()).limit(500)))

    # -- exports --------------------------------------------------------------------------------------------------------

    def attendance_records(self, caller: Principal, class_id: str = "", student_id: str = "", school_year: str = "") -> AttendanceRecords:
        """Every lesson of a class in a school year with every mark and its history, and the
        class's excuses (the class register); or every mark and excuse of one student (their
        data export), never another student's."""
        if bool(class_id) == bool(student_id):
            raise InvalidArgument("klasa albo uczeń", field_errors={"class_id": "Podaj klasę albo ucznia (jedno z nich)."})
        days = school_year_days(school_year) if school_year else None
        with_marks = select(Lesson, AttendanceMark).join(AttendanceMark, AttendanceMark.lesson_id == Lesson.id)
        if class_id:
            roster = self._register_class(caller, class_id)
            school_id, school_year = roster.school_id, school_year or roster.school_year
            days = days or school_year_days(school_year)
            lessons_query = select(Lesson).where(Lesson.class_id == roster.class_id)
            marks_query = with_marks.where(Lesson.class_id == roster.class_id)
            excuses_query = select(Excuse).where(Excuse.class_id == roster.class_id)
        else:
            student = self.visible_student(caller, student_id)
            school_id = student.school_id
            lessons_query = None  # a student's lessons are those they have a mark at
            marks_query = with_marks.where(AttendanceMark.student_id == student.id)
            excuses_query = select(Excuse).where(Excuse.student_id == student.id)
            if days:
                start = datetime.combine(days[0], datetime.min.time(), tzinfo=SCHOOL_TIME)  # the school's days
                end = datetime.combine(days[1] + timedelta(days=1), datetime.min.time(), tzinfo=SCHOOL_TIME)
                excuses_query = excuses_query.where(Excuse.submitted_at >= start, Excuse.submitted_at < end)
        if days:
            in_year = (Lesson.date >= days[0], Lesson.date <= days[1])
            marks_query = marks_query.where(*in_year)
            lessons_query = lessons_query.where(*in_year) if lessons_query is not None else None
        with self.database.transaction() as session:
            pairs = list(session.execute(marks_query.where(Lesson.school_id == school_id)).tuples())
            lessons = {l.id: l for l, _ in pairs}
            if lessons_query is not None:
                lessons.update((l.id, l) for l in session.scalars(lessons_query.where(Lesson.school_id == school_id)))
            excuses = list(session.scalars(excuses_query.where(Excuse.school_id == school_id).order_by(Excuse.submitted_at)))
            mark_history = _histories(session, "mark", [f"{m.lesson_id}:{m.student_id}" for _, m in pairs])
            excuse_history = _histories(session, "excuse", [e.id for e in excuses])
            types = list(session.scalars(select(AttendanceType).where(AttendanceType.school_id == school_id).order_by(AttendanceType.code)))
        marks: dict[str, list[MarkRecord]] = defaultdict(list)
        for _, mark in sorted(pairs, key=lambda pair: pair[1].student_id):
            marks[mark.lesson_id].append(MarkRecord(mark, mark_history.get(f"{mark.lesson_id}:{mark.student_id}", [])))
        return AttendanceRecords(
            school_id=school_id,
            school_year=school_year,
            lessons=[(l, marks.get(l.id, [])) for l in sorted(lessons.values(), key=lambda l: (l.date, l.lesson_no, l.id))],
            excuses=[(e, excuse_history.get(e.id, [])) for e in excuses],
            types=types,
        )

    def _register_class(self, caller: Principal, class_id: str) -> Roster:
        """The class if the caller may export its register: the school's secretary and principal
        and the class's homeroom teacher; PermissionDenied for the school's other staff."""
        roster = self.roster(caller, class_id)
        if caller.is_service:
            return roster
        if not caller.has_any_role(*STAFF):
            raise NotFound("nie ma takiej klasy")
        if caller.has_any_role("school_admin", "principal") or caller.user_id == roster.homeroom_teacher_id:
            return roster
        raise PermissionDenied("dziennik klasy eksportuje sekretariat, dyrektor lub wychowawca klasy")

    # -- checks and helpers ------------------------------------------------------------------------------------------

    def _require_teacher(self, caller: Principal) -> Facts:
        if "teacher" not in caller.roles:
            raise PermissionDenied("to robi nauczyciel")
        return self.directory.facts(caller.user_id)

    def roster(self, caller: Principal, class_id: str) -> Roster:
        roster = self.directory.roster(class_id) if class_id else None
        if roster is None or (not caller.is_service and roster.school_id != caller.school_id):
            raise NotFound("nie ma takiej klasy")
        return roster

    def _lesson(self, session: Session, caller: Principal, lesson_id: str) -> Lesson:
        lesson = session.get(Lesson, lesson_id) if lesson_id else None
        if lesson is None or lesson.school_id != caller.school_id or not caller.has_any_role(*STAFF):
            raise NotFound("nie ma takiej lekcji")
        return lesson

    def visible_student(self, caller: Principal, student_id: str) -> Student:
        """Themself, their parents, the school's secretary and principal, teachers of their class."""
        student = self.directory.student(student_id) if student_id else None
        if student is None:
            raise NotFound("nie ma takiego ucznia")
        if caller.is_service or caller.user_id == student.id or caller.user_id in student.parent_ids:
            return student
        if caller.school_id == student.school_id:
            if caller.has_any_role("school_admin", "principal"):
                return student
            if "teacher" in caller.roles and self.directory.facts(caller.user_id).teaches_class(student.class_id):
                return student
        raise NotFound("nie ma takiego ucznia")


def _require_admin(caller: Principal) -> None:
    if "school_admin" not in caller.roles or not caller.school_id:
        raise PermissionDenied("to ustawia sekretariat szkoły")


def _settings(session: Session, school_id: str) -> Settings:
    row = session.get(SchoolSettings, school_id)
    if row is None:
        return Settings()
    return Settings(row.excuse_deadline_days, row.adult_students_may_excuse, tuple(row.lesson_hours))


def _type_categories(session: Session, school_id: str) -> dict[str, str]:
    return {t.code: t.counts_as for t in session.scalars(select(AttendanceType).where(AttendanceType.school_id == school_id))}


def _summary(statuses: list[str], types: dict[str, str]) -> Summary:
    counts = rules.counts_by_category(statuses, types)
    return Summary(rules.percent_present(counts), counts)


def _absences_of_day(session: Session, student_id: str, class_id: str, day: date, types: dict[str, str]) -> list[tuple[Lesson, AttendanceMark]]:
    rows = session.execute(
        select(Lesson, AttendanceMark).join(AttendanceMark, AttendanceMark.lesson_id == Lesson.id)
        .where(Lesson.class_id == class_id, Lesson.date == day, AttendanceMark.student_id == student_id).order_by(Lesson.lesson_no)
    ).tuples()
    return [(l, m) for l, m in rows if types.get(m.status, m.status) in rules.ABSENCES]


def _student_context(student: Student) -> events_pb2.StudentContext:
    return events_pb2.StudentContext(school_id=student.school_id, student_id=student.id, student_first_name=student.first_name,
                                     student_last_name=student.last_name, class_id=student.class_id)


def school_year_days(school_year: str) -> tuple[date, date]:
    """`2026/2027` → 1 September 2026 … 31 August 2027."""
    match = _SCHOOL_YEAR.match(school_year)
    if not match or int(match[2]) != int(match[1]) + 1:
        raise InvalidArgument("niepoprawny rok szkolny", field_errors={"school_year": "Rok szkolny w postaci RRRR/RRRR, np. 2026/2027."})
    return date(int(match[1]), 9, 1), date(int(match[2]), 8, 31)


def _histories(session: Session, entity: str, ids: list[str]) -> dict[str, list[HistoryEntry]]:
    """The history of each `entity` named in `ids`, oldest first (read in batches)."""
    found: dict[str, list[HistoryEntry]] = defaultdict(list)
    unique = sorted(set(ids))
    for start in range(0, len(unique), _IN_BATCH):
        batch = unique[start:start + _IN_BATCH]
        for entry in session.scalars(select(HistoryEntry).where(HistoryEntry.entity == entity, HistoryEntry.entity_id.in_(batch)).order_by(HistoryEntry.id)):
            found[entry.entity_id].append(entry)
    return found


def period(start: str, end: str) -> tuple[date, date]:
    """Default: the current school year so far."""
    first = _day(start, "from") if start else school_year_start(today())
    last = _day(end, "to") if end else today()
    if last < first:
        raise InvalidArgument("niepoprawny okres", field_errors={"to": "Koniec okresu przed jego początkiem."})
    return first, last


def _valid_hours(text: str) -> bool:
    try:
        start, end = text.split("-")
        return datetime.strptime(start, "%H:%M") < datetime.strptime(end, "%H:%M")
    except ValueError:
        return False
