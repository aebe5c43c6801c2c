"""Setting up a school through the services' public gRPC contracts, as a school's secretary
would through the API: used by the demo loader and by test fixtures."""
from __future__ import annotations

from dataclasses import dataclass

import grpc

from dziennik.gradebook.v1 import gradebook_pb2, gradebook_pb2_grpc
from dziennik.identity.v1 import identity_pb2, identity_pb2_grpc
from platform_kit.auth import bearer_metadata


@dataclass(frozen=True)
class Person:
    id: str
    login: str
    password: str


class Seeder:
    def __init__(self, identity_channel: grpc.Channel, gradebook_channel: grpc.Channel) -> None:
        self.identity = identity_pb2_grpc.IdentityServiceStub(identity_channel)
        self.gradebook = gradebook_pb2_grpc.GradebookServiceStub(gradebook_channel)

    def sign_in(self, login: str, password: str) -> tuple[tuple[str, str], ...]:
        tokens = self.identity.Login(identity_pb2.LoginRequest(login=login, password=password)).tokens
        return bearer_metadata(tokens.access_token)

    def school(self, admin: tuple, name: str) -> str:
        return self.identity.CreateSchool(identity_pb2.CreateSchoolRequest(name=name), metadata=admin).id

    def find_school(self, admin: tuple, name: str) -> str | None:
        schools = self.identity.ListSchools(identity_pb2.ListSchoolsRequest(), metadata=admin).schools
        return next((s.id for s in schools if s.name == name), None)

    def person(self, admin: tuple, school_id: str, role: str, first_name: str, last_name: str, password: str, phone: str = "") -> Person:
        """Create an account and activate it with `password`, as its owner would."""
        created = self.identity.CreateUser(
            identity_pb2.CreateUserRequest(
                role=identity_pb2.Role.Value(f"ROLE_{role.upper()}"),
                first_name=first_name,
                last_name=last_name,
                school_id=school_id,
                phone=phone,
            ),
            metadata=admin,
        )
        self.identity.Activate(identity_pb2.ActivateRequest(activation_code=created.activation_code, password=password))
        return Person(created.id, created.login, password)

    def link(self, admin: tuple, parent: Person, student: Person) -> None:
        self.identity.LinkParent(identity_pb2.LinkParentRequest(parent_id=parent.id, student_id=student.id), metadata=admin)

    def subject(self, school_admin: tuple, name: str, short_name: str = "") -> str:
        return self.gradebook.CreateSubject(gradebook_pb2.CreateSubjectRequest(name=name, short_name=short_name), metadata=school_admin).id
