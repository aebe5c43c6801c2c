"""identity's answers as notify needs them: students' names, their parents' phones and whom the
school's access policy allows SMS alerts."""
from __future__ import annotations

from dziennik.identity.v1 import identity_pb2, identity_pb2_grpc
from platform_kit.auth import service_metadata
from services.notify.alerts import Contact, StudentContacts

STAFF_ROLES = {identity_pb2.ROLE_SCHOOL_ADMIN, identity_pb2.ROLE_PRINCIPAL, identity_pb2.ROLE_TEACHER, identity_pb2.ROLE_SUPERADMIN}


def _contact(contact) -> Contact:
    return Contact(contact.user_id, contact.phone, contact.sms_allowed)


def _student_contacts(answer) -> StudentContacts:
    return StudentContacts(answer.first_name, answer.last_name, [_contact(p) for p in answer.parents], _contact(answer.student) if answer.student.user_id else None)


class IdentityContacts:
    """Asks identity for students' names, their parents' phones and whom the school's access
    policy allows SMS alerts."""

    def __init__(self, channel, service_token: str) -> None:
        self.stub = identity_pb2_grpc.IdentityServiceStub(channel)
        self.metadata = service_metadata(service_token)

    def __call__(self, student_id: str) -> StudentContacts:
        return _student_contacts(self.stub.GetStudentContacts(identity_pb2.GetStudentContactsRequest(student_id=student_id), metadata=self.metadata))

    def of_school(self, school_id: str, student_ids: list[str]) -> dict[str, StudentContacts]:
        """Some of a school's students in one question (a batch of grades); a student identity
        does not list there (enrolled in none of that school's classes, or no school named in the
        event) is asked alone."""
        found: dict[str, StudentContacts] = {}
        if school_id:
            answer = self.stub.ListStudentContacts(identity_pb2.ListStudentContactsRequest(school_id=school_id, student_ids=student_ids), metadata=self.metadata)
            found = {student.student_id: _student_contacts(student) for student in answer.students if student.student_id in student_ids}
        return {student_id: found[student_id] if student_id in found else self(student_id) for student_id in student_ids}

    def roster(self, school_id: str, class_ids: list[str]) -> list[StudentContacts]:
        answer = self.stub.ListStudentContacts(identity_pb2.ListStudentContactsRequest(school_id=school_id, class_ids=class_ids), metadata=self.metadata)
        return [_student_contacts(student) for student in answer.students]

    def sms_allowed(self, user_id: str) -> bool:
        """Staff always (the school's own business); a student or parent if the school's policy
        allows them SMS about themself or any of their children."""
        facts = self.stub.GetAuthorizationFacts(identity_pb2.GetAuthorizationFactsRequest(user_id=user_id), metadata=self.metadata)
        if STAFF_ROLES & set(facts.roles):
            return True
        students = ([user_id] if identity_pb2.ROLE_STUDENT in facts.roles else []) + list(facts.children)
        return any(person.user_id == user_id and person.sms_allowed for student_id in students for person in self(student_id).people())
