"""Gradebook's gRPC entrypoint: translate messages to use-case calls and back."""
from __future__ import annotations

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from dziennik.gradebook.v1 import gradebook_pb2 as pb
from dziennik.gradebook.v1 import gradebook_pb2_grpc
from dziennik.identity.v1 import identity_pb2, identity_pb2_grpc
from platform_kit.auth import current_principal, service_metadata
from services.gradebook.orm import Grade
from services.gradebook.use_cases import Gradebook, Student, Teaching


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

    def RecordGrade(self, request, context):
        grade = self.gradebook.record_grade(
            current_principal(), request.student_id, request.subject_id, request.value, request.comment, request.request_id, request.category_id
        )
        return pb.RecordGradeResponse(grade=_grade_message(grade))

    def ListStudentGrades(self, request, context):
        subjects = self.gradebook.student_grades(current_principal(), request.student_id)
        return pb.ListStudentGradesResponse(
            student_id=request.student_id,
            subjects=[
                pb.SubjectGrades(subject_id=s.id, subject_name=s.name, grades=[_grade_message(g) for g in grades])
                for s, grades in subjects
            ],
        )


def _subject(subject) -> pb.Subject:
    return pb.Subject(id=subject.id, name=subject.name, short_name=subject.short_name)


def _grade_message(grade: Grade) -> pb.Grade:
    recorded_at = Timestamp()
    recorded_at.FromDatetime(grade.recorded_at)
    return pb.Grade(
        id=grade.id,
        student_id=grade.student_id,
        subject_id=grade.subject_id,
        category_id=grade.category_id or "",
        value=grade.value,
        comment=grade.comment,
        teacher_id=grade.teacher_id,
        date=grade.issued_on.isoformat(),
        recorded_at=recorded_at,
    )


class IdentityPeople:
    """Asks identity (the owner of people, classes and links) with the service token."""

    def __init__(self, channel, service_token: str) -> None:
        self.stub = identity_pb2_grpc.IdentityServiceStub(channel)
        self.metadata = service_metadata(service_token)

    def student(self, student_id: str) -> Student | None:
        try:
            contacts = self.stub.GetStudentContacts(
                identity_pb2.GetStudentContactsRequest(student_id=student_id), metadata=self.metadata
            )
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return Student(
            id=contacts.student_id,
            school_id=contacts.school_id,
            class_id=contacts.class_id,
            parent_ids=frozenset(p.user_id for p in contacts.parents),
        )

    def teaching(self, teacher_id: str) -> Teaching:
        facts = self.stub.GetAuthorizationFacts(identity_pb2.GetAuthorizationFactsRequest(user_id=teacher_id), metadata=self.metadata)
        return Teaching(
            assignments=frozenset((t.class_id, t.subject_id) for t in facts.teaching),
            homeroom_class_ids=frozenset(facts.homeroom_class_ids),
        )
