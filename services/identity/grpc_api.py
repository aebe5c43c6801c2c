"""Identity's gRPC entrypoint."""
from __future__ import annotations

from dziennik.identity.v1 import identity_pb2 as pb
from dziennik.identity.v1 import identity_pb2_grpc
from platform_kit.auth import current_principal
from services.identity.use_cases import Identity, TokenPair


def _tokens(pair: TokenPair) -> pb.TokenPair:
    return pb.TokenPair(access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in)


def _role(name: str) -> int:
    return pb.Role.Value(f"ROLE_{name.upper()}")


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    def Login(self, request, context):
        return pb.LoginResponse(tokens=_tokens(self.identity.login(request.login, request.password)))

    def Refresh(self, request, context):
        return pb.RefreshResponse(tokens=_tokens(self.identity.refresh(request.refresh_token)))

    def Logout(self, request, context):
        self.identity.logout(current_principal())
        return pb.LogoutResponse()

    def Activate(self, request, context):
        return pb.ActivateResponse(login=self.identity.activate(request.activation_code, request.password))

    def GetJwks(self, request, context):
        return pb.GetJwksResponse(jwks_json=self.identity.jwks_json())

    def GetMe(self, request, context):
        user, children = self.identity.me(current_principal())
        return pb.GetMeResponse(
            id=user.id,
            login=user.login,
            first_name=user.first_name,
            last_name=user.last_name,
            roles=[_role(r) for r in user.role_names],
            school_id=user.school_id or "",
            children=[pb.Child(student_id=c.id, first_name=c.first_name, last_name=c.last_name) for c in children],
        )

    def CreateSchool(self, request, context):
        return pb.CreateSchoolResponse(id=self.identity.create_school(current_principal(), request.name))

    def ListSchools(self, request, context):
        schools = self.identity.list_schools(current_principal())
        return pb.ListSchoolsResponse(schools=[pb.School(id=s.id, name=s.name) for s in schools])

    def CreateUser(self, request, context):
        role = pb.Role.Name(request.role).removeprefix("ROLE_").lower() if request.role else ""
        user, code = self.identity.create_user(
            current_principal(),
            role=role,
            first_name=request.first_name,
            last_name=request.last_name,
            school_id=request.school_id,
            email=request.email,
            phone=request.phone,
        )
        return pb.CreateUserResponse(id=user.id, login=user.login, activation_code=code)

    def LinkParent(self, request, context):
        self.identity.link_parent(current_principal(), request.parent_id, request.student_id)
        return pb.LinkParentResponse()

    def GetStudentContacts(self, request, context):
        student, parents = self.identity.student_contacts(current_principal(), request.student_id)
        return pb.GetStudentContactsResponse(
            student_id=student.id,
            school_id=student.school_id or "",
            first_name=student.first_name,
            last_name=student.last_name,
            parents=[pb.Contact(user_id=p.id, first_name=p.first_name, last_name=p.last_name, phone=p.phone) for p in parents],
        )
