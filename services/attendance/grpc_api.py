"""Attendance's gRPC entrypoint, and the adapters that ask identity and gradebook."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from functools import lru_cache

import grpc

from dziennik.attendance.v1 import attendance_pb2 as pb
from dziennik.attendance.v1 import attendance_pb2_grpc
from dziennik.gradebook.v1 import gradebook_pb2, gradebook_pb2_grpc
from dziennik.identity.v1 import identity_pb2, identity_pb2_grpc
from platform_kit.auth import current_principal, service_metadata
from services.attendance import rules
from services.attendance.meeting import MeetingReports, SubjectGrades
from services.attendance.orm import Excuse, Lesson
from services.attendance.use_cases import Attendance, Facts, Roster, Settings, Student, Summary


def _optional(request, field: str):
    return getattr(request, field) if request.HasField(field) else None


class AttendanceServicer(attendance_pb2_grpc.AttendanceServiceServicer):
    def __init__(self, attendance: Attendance, reports: MeetingReports) -> None:
        self.attendance = attendance
        self.reports = reports

    def SetTimetable(self, request, context):
        slots = [rules.Slot(e.weekday, e.lesson_no, e.subject_id, e.teacher_id, e.room) for e in request.entries]
        count = self.attendance.set_timetable(current_principal(), request.class_id, request.school_year, slots, request.valid_from)
        return pb.SetTimetableResponse(entries=count)

    def GetWeek(self, request, context):
        monday, lessons = self.attendance.week(
            current_principal(), class_id=request.class_id, teacher_id=request.teacher_id, student_id=request.student_id, day=request.day
        )
        hours = self.attendance.settings_of(lessons[0].school_id).lesson_hours if lessons else ()  # one school per week
        return pb.GetWeekResponse(monday=monday.isoformat(), lessons=[self._lesson(l, hours) for l in lessons])

    def OpenLesson(self, request, context):
        lesson = self.attendance.open_lesson(current_principal(), request.class_id, request.subject_id, request.date, request.lesson_no, request.topic)
        return pb.OpenLessonResponse(lesson=self._lesson(lesson))

    def ChangeLesson(self, request, context):
        lesson = self.attendance.change_lesson(
            current_principal(), request.lesson_id, topic=_optional(request, "topic"),
            substitute_teacher_id=_optional(request, "substitute_teacher_id"), cancelled=_optional(request, "cancelled"),
        )
        return pb.ChangeLessonResponse(lesson=self._lesson(lesson))

    def GetLesson(self, request, context):
        lesson, marks = self.attendance.lesson_with_marks(current_principal(), request.lesson_id)
        return pb.GetLessonResponse(lesson=self._lesson(lesson), marks=[pb.Mark(student_id=m.student_id, status=m.status) for m in marks])

    def MarkAttendance(self, request, context):
        lesson, marks = self.attendance.mark(current_principal(), request.lesson_id, [(e.student_id, e.status) for e in request.entries])
        return pb.MarkAttendanceResponse(lesson=self._lesson(lesson), marks=[pb.Mark(student_id=m.student_id, status=m.status) for m in marks])

    def ListStudentAttendance(self, request, context):
        records = self.attendance.student_records(current_principal(), request.student_id, getattr(request, "from"), request.to)
        return pb.ListStudentAttendanceResponse(
            items=[pb.AttendanceRecord(lesson_id=l.id, date=l.date.isoformat(), lesson_no=l.lesson_no, subject_id=l.subject_id, status=m.status) for l, m in records]
        )

    def GetStudentSummary(self, request, context):
        summary = self.attendance.student_summary(current_principal(), request.student_id, getattr(request, "from"), request.to)
        return pb.GetStudentSummaryResponse(
            overall=_summary(summary["overall"]),
            **{name: [pb.KeyedSummary(key=k, summary=_summary(v)) for k, v in summary[name].items()] for name in ("by_subject", "by_month", "by_semester")},
        )

    def GetClassSummary(self, request, context):
        overall, by_student = self.attendance.class_summary(current_principal(), request.class_id, getattr(request, "from"), request.to)
        return pb.GetClassSummaryResponse(overall=_summary(overall), by_student=[pb.KeyedSummary(key=k, summary=_summary(v)) for k, v in by_student.items()])

    def SubmitExcuse(self, request, context):
        excuse = self.attendance.submit_excuse(current_principal(), request.student_id, list(request.lesson_ids), list(request.days), request.reason)
        return pb.SubmitExcuseResponse(excuse=_excuse(excuse))

    def DecideExcuse(self, request, context):
        return pb.DecideExcuseResponse(excuse=_excuse(self.attendance.decide_excuse(current_principal(), request.excuse_id, request.decision)))

    def ListExcuses(self, request, context):
        return pb.ListExcusesResponse(excuses=[_excuse(e) for e in self.attendance.excuses(current_principal(), request.status)])

    def GetSettings(self, request, context):
        return pb.GetSettingsResponse(settings=_settings(self.attendance.settings_of(current_principal().school_id or "")))

    def UpdateSettings(self, request, context):
        s = request.settings
        settings = self.attendance.update_settings(current_principal(), Settings(s.excuse_deadline_days, s.adult_students_may_excuse, tuple(s.lesson_hours)))
        return pb.UpdateSettingsResponse(settings=_settings(settings))

    def CreateAttendanceType(self, request, context):
        kind = self.attendance.create_type(current_principal(), request.type.code, request.type.name, request.type.counts_as)
        return pb.CreateAttendanceTypeResponse(type=pb.AttendanceType(code=kind.code, name=kind.name, counts_as=kind.counts_as))

    def ListAttendanceTypes(self, request, context):
        return pb.ListAttendanceTypesResponse(types=[pb.AttendanceType(code=t.code, name=t.name, counts_as=t.counts_as) for t in self.attendance.list_types(current_principal())])

    def GetMeetingReport(self, request, context):
        pdf, filename = self.reports.pdf(current_principal(), student_id=request.student_id, class_id=request.class_id, start=getattr(request, "from"), end=request.to)
        return pb.GetMeetingReportResponse(pdf=pdf, filename=filename)

    def ListAttendanceRecords(self, request, context):
        records = self.attendance.attendance_records(current_principal(), request.class_id, request.student_id, request.school_year)
        hours = self.attendance.settings_of(records.school_id).lesson_hours
        return pb.ListAttendanceRecordsResponse(
            lessons=[
                pb.LessonRecord(
                    lesson=self._lesson(lesson, hours),
                    subject_name=lesson.subject_name,
                    marks=[
                        pb.MarkRecord(
                            student_id=r.mark.student_id, status=r.mark.status, marked_by=r.mark.marked_by, marked_at=_iso(r.mark.marked_at),
                            history=[_history_entry(e) for e in r.history],
                        )
                        for r in marks
                    ],
                )
                for lesson, marks in records.lessons
            ],
            excuses=[pb.ExcuseRecord(excuse=_excuse(e), history=[_history_entry(h) for h in history]) for e, history in records.excuses],
            types=[pb.AttendanceType(code=t.code, name=t.name, counts_as=t.counts_as) for t in records.types],
            school_year=records.school_year,
        )

    def _lesson(self, lesson: Lesson, hours: tuple[str, ...] | None = None) -> pb.Lesson:
        hours = hours if hours is not None else self.attendance.settings_of(lesson.school_id).lesson_hours
        starts, _, ends = hours[lesson.lesson_no - 1].partition("-") if lesson.lesson_no <= len(hours) else ("", "", "")
        return pb.Lesson(
            id=lesson.id, class_id=lesson.class_id, subject_id=lesson.subject_id, teacher_id=lesson.teacher_id, date=lesson.date.isoformat(),
            lesson_no=lesson.lesson_no, topic=lesson.topic, room=lesson.room, substitute_teacher_id=lesson.substitute_teacher_id or "",
            cancelled=lesson.cancelled, starts=starts, ends=ends,
        )


def _summary(summary: Summary) -> pb.Summary:
    return pb.Summary(
        percent_present="" if summary.percent_present is None else str(summary.percent_present),
        counts=[pb.Count(status=k, count=v) for k, v in sorted(summary.counts.items())],
    )


def _excuse(excuse: Excuse) -> pb.Excuse:
    return pb.Excuse(
        id=excuse.id, student_id=excuse.student_id, reason=excuse.reason, status=excuse.status, lesson_ids=excuse.lesson_ids,
        submitted_by=excuse.submitted_by, submitted_at=excuse.submitted_at.isoformat(), decided_by=excuse.decided_by or "",
        decided_at=excuse.decided_at.isoformat() if excuse.decided_at else "",
    )


def _iso(moment: datetime | None) -> str:
    """ISO 8601 with offset (SQLite hands back naive datetimes; everything stored is UTC)."""
    if moment is None:
        return ""
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).isoformat()


def _history_entry(entry) -> pb.HistoryEntry:
    return pb.HistoryEntry(
        action=entry.action, actor_id=entry.actor_id, at=_iso(entry.at),
        old_json=json.dumps(entry.old) if entry.old is not None else "", new_json=json.dumps(entry.new) if entry.new is not None else "",
    )


def _settings(settings: Settings) -> pb.Settings:
    return pb.Settings(excuse_deadline_days=settings.excuse_deadline_days, adult_students_may_excuse=settings.adult_students_may_excuse, lesson_hours=list(settings.lesson_hours))


class Services:
    """identity and gradebook over gRPC with the service token."""

    def __init__(self, identity_channel, gradebook_channel, service_token: str) -> None:
        self.identity = identity_pb2_grpc.IdentityServiceStub(identity_channel)
        self.gradebook = gradebook_pb2_grpc.GradebookServiceStub(gradebook_channel)
        self.metadata = service_metadata(service_token)
        self.subject_name = lru_cache(maxsize=4096)(self._subject_name)

    def student(self, student_id: str) -> Student | None:
        try:
            answer = self.identity.GetStudentContacts(identity_pb2.GetStudentContactsRequest(student_id=student_id), metadata=self.metadata)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return Student(answer.student_id, answer.school_id, answer.class_id, frozenset(p.user_id for p in answer.parents), answer.first_name, answer.last_name)

    def roster(self, class_id: str) -> Roster | None:
        try:
            answer = self.identity.GetClassRoster(identity_pb2.GetClassRosterRequest(class_id=class_id), metadata=self.metadata)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        klass = getattr(answer, "class")
        return Roster(klass.id, klass.school_id, klass.name, klass.school_year, klass.homeroom_teacher_id, answer.school_name,
                      [(s.id, s.first_name, s.last_name) for s in answer.students])

    def facts(self, user_id: str) -> Facts:
        answer = self.identity.GetAuthorizationFacts(identity_pb2.GetAuthorizationFactsRequest(user_id=user_id), metadata=self.metadata)
        return Facts(frozenset((t.class_id, t.subject_id) for t in answer.teaching), frozenset(answer.homeroom_class_ids), frozenset(answer.children))

    def _subject_name(self, subject_id: str) -> str | None:
        try:
            return self.gradebook.GetSubject(gradebook_pb2.GetSubjectRequest(subject_id=subject_id), metadata=self.metadata).subject.name
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise

    def grades_of(self, student_id: str) -> tuple[list[SubjectGrades], str | None]:
        answer = self.gradebook.ListStudentGrades(gradebook_pb2.ListStudentGradesRequest(student_id=student_id), metadata=self.metadata)
        kinds = ("semester_proposed", "semester_final", "annual_proposed", "annual_final")
        return (
            [
                SubjectGrades(s.subject_name, [g.value for g in s.grades], s.averages.year or None, {k: getattr(s.term_grades, k) for k in kinds if getattr(s.term_grades, k)})
                for s in answer.subjects
            ],
            answer.overall_average or None,
        )
