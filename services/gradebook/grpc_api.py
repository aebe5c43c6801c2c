"""Gradebook's gRPC entrypoint: translate messages to use-case calls and back."""
from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

import grpc

from dziennik.gradebook.v1 import gradebook_pb2 as pb
from dziennik.gradebook.v1 import gradebook_pb2_grpc
from dziennik.identity.v1 import identity_pb2, identity_pb2_grpc
from platform_kit.auth import current_principal, service_metadata
from platform_kit.clock import proto_timestamp
from platform_kit.errors import InvalidArgument
from services.gradebook import pages
from services.gradebook.averages import GradeSettings
from services.gradebook.use_cases import ClassRoster, Gradebook, GradeView, Student, Teaching


def _text(number: Decimal | None) -> str:
    return "" if number is None else str(number)



def _optional(request, field: str) -> str | None:
    return getattr(request, field) if request.HasField(field) else None


class GradebookServicer(gradebook_pb2_grpc.GradebookServiceServicer):
    def __init__(self, gradebook: Gradebook) -> None:
        self.gradebook = gradebook

    def CreateSubject(self, request, context):
        subject_id = self.gradebook.create_subject(current_principal(), request.name, request.short_name, request.school_id)
        return pb.CreateSubjectResponse(id=subject_id)

    def ListSubjects(self, request, context):
        subjects = self.gradebook.list_subjects(current_principal(), request.school_id)
        return pb.ListSubjectsResponse(subjects=[_subject(s) for s in subjects])

    def GetSubject(self, request, context):
        return pb.GetSubjectResponse(subject=_subject(self.gradebook.get_subject(current_principal(), request.subject_id)))

    def CreateCategory(self, request, context):
        category_id = self.gradebook.create_category(current_principal(), request.name, request.weight, request.counts_to_average)
        return pb.CreateCategoryResponse(id=category_id)

    def ListCategories(self, request, context):
        categories = self.gradebook.list_categories(current_principal())
        return pb.ListCategoriesResponse(
            categories=[pb.Category(id=c.id, name=c.name, weight=c.weight, counts_to_average=c.counts_to_average) for c in categories]
        )

    def GetSettings(self, request, context):
        return pb.GetSettingsResponse(settings=_settings_message(self.gradebook.settings_of(current_principal())))

    def UpdateSettings(self, request, context):
        settings = self.gradebook.update_settings(current_principal(), _settings_from(request.settings))
        return pb.UpdateSettingsResponse(settings=_settings_message(settings))

    def RecordGrade(self, request, context):
        view = self.gradebook.record_grade(
            current_principal(),
            request.student_id,
            request.subject_id,
            request.value,
            request.comment,
            request.request_id,
            request.category_id,
            request.date,
            request.points,
            request.max_points,
            request.improves_grade_id,
        )
        return pb.RecordGradeResponse(grade=_grade(view))

    def RecordGrades(self, request, context):
        entries = [
            {"student_id": g.student_id, "value": g.value, "comment": g.comment, "points": g.points, "max_points": g.max_points, "improves_grade_id": g.improves_grade_id}
            for g in request.grades
        ]
        views = self.gradebook.record_grades(current_principal(), request.subject_id, request.category_id, request.date, entries, request.request_id)
        return pb.RecordGradesResponse(grades=[_grade(v) for v in views])

    def ChangeGrade(self, request, context):
        view = self.gradebook.change_grade(
            current_principal(),
            request.grade_id,
            value=_optional(request, "value"),
            comment=_optional(request, "comment"),
            category_id=_optional(request, "category_id"),
            expected_version=request.expected_version,
        )
        return pb.ChangeGradeResponse(grade=_grade(view))

    def DeleteGrade(self, request, context):
        self.gradebook.delete_grade(current_principal(), request.grade_id, request.expected_version)
        return pb.DeleteGradeResponse()

    def GetGradeHistory(self, request, context):
        student_id, entries = self.gradebook.grade_history(current_principal(), request.grade_id)
        return pb.GetGradeHistoryResponse(student_id=student_id, entries=[_history_entry(e) for e in entries])

    def ListStudentGrades(self, request, context):
        report = self.gradebook.student_grades(current_principal(), request.student_id, request.school_year)
        return pb.ListStudentGradesResponse(
            student_id=report.student_id,
            school_year=report.school_year,
            overall_average=_text(report.overall_average),
            subjects=[
                pb.SubjectGrades(
                    subject_id=r.subject.id,
                    subject_name=r.subject.name,
                    grades=[_grade(v) for v in r.grades],
                    averages=pb.Averages(**{k: _text(v) for k, v in r.averages.items()}),
                    term_grades=pb.TermGrades(**r.term_grades),
                    suggested_semester_grade=r.suggested_semester_grade or "",
                    suggested_annual_grade=r.suggested_annual_grade or "",
                )
                for r in report.subjects
            ],
        )

    def GetStudentGradesPage(self, request, context):
        version, body = self.gradebook.student_grades_page(current_principal(), request.student_id, request.school_year, request.cached_version)
        if body is None:
            return pb.GetStudentGradesPageResponse(version=version, not_modified=True)
        if request.accept_gzip:
            return pb.GetStudentGradesPageResponse(version=version, page_gzip=body)
        return pb.GetStudentGradesPageResponse(version=version, page_json=pages.unpack(body))

    def SetTermGrade(self, request, context):
        term, suggested = self.gradebook.set_term_grade(
            current_principal(), request.student_id, request.subject_id, request.kind, request.value, request.school_year
        )
        return pb.SetTermGradeResponse(kind=term.kind, value=term.value, school_year=term.school_year, suggested=suggested or "")

    def GetClassStatistics(self, request, context):
        stats = self.gradebook.class_statistics(current_principal(), request.class_id, request.subject_id, request.school_year)
        return pb.GetClassStatisticsResponse(
            class_id=request.class_id,
            subject_id=request.subject_id,
            grade_count=stats.grade_count,
            student_count=stats.student_count,
            average=_text(stats.average),
            distribution=[pb.Bucket(value=k, count=v) for k, v in stats.distribution.items()],
        )

    def ListGradeRecords(self, request, context):
        records = self.gradebook.grade_records(current_principal(), request.class_id, request.student_id, request.school_year)
        grades = []
        for view, history in records.grades:
            record = pb.GradeRecord(grade=_grade(view), history=[_history_entry(e) for e in history])
            if view.grade.deleted_at is not None:
                record.deleted_at.CopyFrom(proto_timestamp(view.grade.deleted_at))
            grades.append(record)
        return pb.ListGradeRecordsResponse(
            grades=grades,
            term_grades=[
                pb.TermGradeRecord(
                    id=t.id, student_id=t.student_id, subject_id=t.subject_id, school_year=t.school_year, kind=t.kind, value=t.value,
                    teacher_id=t.teacher_id, set_at=proto_timestamp(t.set_at), history=[_history_entry(e) for e in history],
                )
                for t, history in records.term_grades
            ],
            subjects=[_subject(s) for s in records.subjects],
            categories=[pb.Category(id=c.id, name=c.name, weight=c.weight, counts_to_average=c.counts_to_average) for c in records.categories],
            school_year=records.school_year,
        )


def _history_entry(entry) -> pb.HistoryEntry:
    return pb.HistoryEntry(
        action=entry.action,
        actor_id=entry.actor_id,
        at=proto_timestamp(entry.at),
        old_json=json.dumps(entry.old) if entry.old is not None else "",
        new_json=json.dumps(entry.new) if entry.new is not None else "",
    )


def _subject(subject) -> pb.Subject:
    return pb.Subject(id=subject.id, name=subject.name, short_name=subject.short_name)


def _grade(view: GradeView) -> pb.Grade:
    grade, category = view.grade, view.category
    return pb.Grade(
        id=grade.id,
        student_id=grade.student_id,
        subject_id=grade.subject_id,
        value=grade.value,
        comment=grade.comment,
        teacher_id=grade.teacher_id,
        date=grade.issued_on.isoformat(),
        recorded_at=proto_timestamp(grade.recorded_at),
        category_id=grade.category_id or "",
        category_name=category.name if category else "",
        weight=category.weight if category else 1,
        counts_to_average=(category.counts_to_average if category else True) and grade.points is None,
        semester=view.semester,
        improves_grade_id=grade.improves_grade_id or "",
        version=grade.version,
        points=_text(grade.points),
        max_points=_text(grade.max_points),
        school_year=grade.school_year,
    )


def _settings_message(settings: GradeSettings) -> pb.Settings:
    month, day = settings.second_semester_starts
    return pb.Settings(
        plus=str(settings.plus),
        minus=str(settings.minus),
        improved_original_counts=settings.improved_original_counts,
        allowed_marks=sorted(settings.allowed_marks),
        thresholds=[pb.Threshold(lowest_average=str(a), grade=g) for a, g in settings.thresholds],
        second_semester_starts=f"{month:02d}-{day:02d}",
    )


def _settings_from(message: pb.Settings) -> GradeSettings:
    try:
        month, day = (int(part) for part in message.second_semester_starts.split("-"))
        return GradeSettings(
            plus=Decimal(message.plus),
            minus=Decimal(message.minus),
            improved_original_counts=message.improved_original_counts,
            allowed_marks=frozenset(message.allowed_marks),
            thresholds=tuple((Decimal(t.lowest_average), t.grade) for t in message.thresholds),
            second_semester_starts=(month, day),
        )
    except (InvalidOperation, ValueError):
        raise InvalidArgument("niepoprawne ustawienia", field_errors={"settings": "Liczby dziesiętne i data MM-DD."}) from None


def _student(contacts: identity_pb2.GetStudentContactsResponse) -> Student:
    return Student(
        id=contacts.student_id,
        school_id=contacts.school_id,
        class_id=contacts.class_id,
        parent_ids=frozenset(p.user_id for p in contacts.parents),
        first_name=contacts.first_name,
        last_name=contacts.last_name,
    )


class IdentityPeople:
    """Asks identity (the owner of people, classes and links) with the service token."""

    def __init__(self, channel, service_token: str) -> None:
        self.stub = identity_pb2_grpc.IdentityServiceStub(channel)
        self.metadata = service_metadata(service_token)

    def student(self, student_id: str) -> Student | None:
        try:
            facts = self.stub.GetStudentFacts(identity_pb2.GetStudentFactsRequest(student_id=student_id), metadata=self.metadata)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return Student(
            id=facts.student_id, school_id=facts.school_id, class_id=facts.class_id, parent_ids=frozenset(facts.parent_ids),
            first_name=facts.first_name, last_name=facts.last_name,
        )

    def students(self, school_id: str, student_ids: list[str]) -> list[Student]:
        try:
            answer = self.stub.ListStudentContacts(
                identity_pb2.ListStudentContactsRequest(school_id=school_id, student_ids=student_ids), metadata=self.metadata
            )
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return []
            raise
        return [_student(contacts) for contacts in answer.students]

    def class_roster(self, class_id: str) -> ClassRoster | None:
        try:
            answer = self.stub.GetClassRoster(identity_pb2.GetClassRosterRequest(class_id=class_id), metadata=self.metadata)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        klass = getattr(answer, "class")
        return ClassRoster(klass.id, klass.school_id, klass.school_year, klass.homeroom_teacher_id, tuple(s.id for s in answer.students))

    def teaching(self, teacher_id: str) -> Teaching:
        facts = self.stub.GetAuthorizationFacts(identity_pb2.GetAuthorizationFactsRequest(user_id=teacher_id), metadata=self.metadata)
        return Teaching(
            assignments=frozenset((t.class_id, t.subject_id) for t in facts.teaching),
            homeroom_class_ids=frozenset(facts.homeroom_class_ids),
            name=f"{facts.first_name} {facts.last_name}".strip(),
        )
