"""Identity's gRPC entrypoint: messages in, use cases, messages out."""
from __future__ import annotations

import functools

from dziennik.identity.v1 import identity_pb2 as pb
from dziennik.identity.v1 import identity_pb2_grpc
from datetime import datetime, timedelta

from platform_kit.auth import current_principal
from platform_kit.clock import SCHOOL_TIME, parse_day, school_today
from platform_kit.errors import InvalidArgument, NotFound
from services.identity.administration import NewAccount, SchoolAdministration
from services.identity.audit import AuditTrail
from services.identity.throttle import RequestLimiter
from services.identity.directory import Access, Directory
from services.identity.orm import SchoolClass, User
from services.identity.common import aware
from services.identity.records import PersonalRecords
from services.identity.sessions import Sessions, TokenPair


def _tokens(pair: TokenPair) -> pb.TokenPair:
    return pb.TokenPair(access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in)


def _role(name: str) -> int:
    return pb.Role.Value(f"ROLE_{name.upper()}")


def _role_name(value: int) -> str:
    return pb.Role.Name(value).removeprefix("ROLE_").lower() if value else ""


def _policy(value: int) -> str:
    return pb.AccessPolicy.Name(value).removeprefix("ACCESS_POLICY_").lower() if value else ""


def _access(access: Access) -> pb.Access:
    return pb.Access(
        tier=pb.TIER_EXTENDED if access.extended else pb.TIER_BASIC,
        valid_until=access.valid_until.isoformat() if access.valid_until else "",
    )


def _class(klass: SchoolClass) -> pb.SchoolClass:
    return pb.SchoolClass(
        id=klass.id, school_id=klass.school_id, name=klass.name, school_year=klass.school_year, homeroom_teacher_id=klass.homeroom_teacher_id or ""
    )


def _account(account: NewAccount) -> pb.ImportedAccount:
    user = account.user
    return pb.ImportedAccount(
        id=user.id, login=user.login, activation_code=account.activation_code, first_name=user.first_name, last_name=user.last_name, existing=account.existing
    )


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(self, sessions: Sessions, administration: SchoolAdministration, directory: Directory, audit: AuditTrail, limiter: RequestLimiter) -> None:
        self.sessions = sessions
        self.administration = administration
        self.directory = directory
        self.audit = audit
        self.limiter = limiter

    # -- sign-in ---------------------------------------------------------------------------

    def Login(self, request, context):
        result = self.sessions.login(request.login, request.password, request.client_ip)
        if result.tokens is None:
            return pb.LoginResponse(mfa_required=True, mfa_token=result.mfa_token)
        return pb.LoginResponse(tokens=_tokens(result.tokens))

    def VerifyMfa(self, request, context):
        return pb.VerifyMfaResponse(tokens=_tokens(self.sessions.verify_mfa(request.mfa_token, request.code, request.client_ip)))

    def Refresh(self, request, context):
        return pb.RefreshResponse(tokens=_tokens(self.sessions.refresh(request.refresh_token)))

    def Logout(self, request, context):
        self.sessions.logout(current_principal())
        return pb.LogoutResponse()

    def Activate(self, request, context):
        return pb.ActivateResponse(login=self.sessions.activate(request.activation_code, request.password))

    def ChangePassword(self, request, context):
        self.sessions.change_password(current_principal(), request.current_password, request.new_password)
        return pb.ChangePasswordResponse()

    def EnrollTotp(self, request, context):
        secret, uri = self.sessions.enroll_totp(current_principal())
        return pb.EnrollTotpResponse(secret=secret, otpauth_uri=uri)

    def ConfirmTotp(self, request, context):
        self.sessions.confirm_totp(current_principal(), request.code)
        return pb.ConfirmTotpResponse()

    def GetJwks(self, request, context):
        return pb.GetJwksResponse(jwks_json=self.sessions.jwks_json())

    def GetMe(self, request, context):
        me = self.directory.me(current_principal())
        user = me.user
        return pb.GetMeResponse(
            id=user.id,
            login=user.login,
            first_name=user.first_name,
            last_name=user.last_name,
            roles=[_role(r) for r in user.role_names],
            school_id=user.school_id or "",
            children=[
                pb.Child(
                    student_id=c.student.id,
                    first_name=c.student.first_name,
                    last_name=c.student.last_name,
                    class_id=c.klass.id if c.klass else "",
                    class_name=c.klass.name if c.klass else "",
                    access=_access(c.access),
                    sms_alerts=pb.SmsAlerts(allowed=c.sms_allowed, add_on_valid_until=c.sms_add_on_until.isoformat() if c.sms_add_on_until else ""),
                )
                for c in me.children
            ],
            access=_access(me.access),
            mfa_enabled=me.mfa_enabled,
            mfa_enrollment_required=me.mfa_enrollment_required,
        )

    # -- school administration -------------------------------------------------------------------

    def CreateSchool(self, request, context):
        return pb.CreateSchoolResponse(id=self.administration.create_school(current_principal(), request.name, _policy(request.access_policy)))

    def UpdateSchool(self, request, context):
        self.administration.set_access_policy(current_principal(), request.school_id, _policy(request.access_policy))
        return pb.UpdateSchoolResponse()

    def ListSchools(self, request, context):
        schools = self.administration.list_schools(current_principal())
        return pb.ListSchoolsResponse(
            schools=[pb.School(id=s.id, name=s.name, access_policy=pb.AccessPolicy.Value(f"ACCESS_POLICY_{s.access_policy.upper()}")) for s in schools]
        )

    def CreateUser(self, request, context):
        account = self.administration.create_user(
            current_principal(),
            role=_role_name(request.role),
            first_name=request.first_name,
            last_name=request.last_name,
            school_id=request.school_id,
            email=request.email,
            phone=request.phone,
            class_id=request.class_id,
            children=list(request.children),
        )
        return pb.CreateUserResponse(id=account.user.id, login=account.user.login, activation_code=account.activation_code)

    def ListUsers(self, request, context):
        users = self.administration.list_users(current_principal(), request.school_id, _role_name(request.role), request.class_id)
        return pb.ListUsersResponse(users=[_user(user, class_id) for user, class_id in users])

    def LinkParent(self, request, context):
        self.administration.link_parent(current_principal(), request.parent_id, request.student_id)
        return pb.LinkParentResponse()

    def CreateClass(self, request, context):
        class_id = self.administration.create_class(
            current_principal(), request.name, request.school_year, request.homeroom_teacher_id, request.school_id
        )
        return pb.CreateClassResponse(id=class_id)

    def UpdateClass(self, request, context):
        klass = self.administration.update_class(
            current_principal(),
            request.class_id,
            request.name if request.HasField("name") else None,
            request.homeroom_teacher_id if request.HasField("homeroom_teacher_id") else None,
        )
        return pb.UpdateClassResponse(**{"class": _class(klass)})

    def ListClasses(self, request, context):
        return pb.ListClassesResponse(classes=[_class(k) for k in self.administration.list_classes(current_principal(), request.school_id)])

    def ImportClassList(self, request, context):
        rows = self.administration.import_class_list(current_principal(), request.class_id, request.csv)
        return pb.ImportClassListResponse(
            students=[pb.ImportedStudent(row=r.row, student=_account(r.student), parents=[_account(p) for p in r.parents]) for r in rows]
        )

    def CreateTeachingAssignment(self, request, context):
        assignment_id = self.administration.assign_teaching(current_principal(), request.teacher_id, request.class_id, request.subject_id)
        return pb.CreateTeachingAssignmentResponse(id=assignment_id)

    # -- facts ----------------------------------------------------------------------------------

    def GetStudentContacts(self, request, context):
        return _contact_sheet(self.directory.student_contacts(current_principal(), request.student_id))

    def GetStudentFacts(self, request, context):
        facts = self.directory.student_facts(current_principal(), request.student_id)
        return pb.GetStudentFactsResponse(
            student_id=facts.id, school_id=facts.school_id, first_name=facts.first_name, last_name=facts.last_name, class_id=facts.class_id,
            parent_ids=facts.parent_ids,
        )

    # -- the audit trail ----------------------------------------------------------------------------

    def RecordAudit(self, request, context):
        entries = [
            {
                "id": e.id, "at": _moment(e.at), "school_id": e.school_id, "actor_id": e.actor_id, "actor_roles": e.actor_roles[:100], "action": e.action,
                "resource": e.resource[:40], "subject_kind": e.subject_kind[:20], "subject_id": e.subject_id[:36], "method": e.method[:10], "path": e.path[:300],
                "status": e.status, "request_id": e.request_id[:128], "client_ip": e.client_ip[:64],
            }
            for e in request.entries
        ]
        return pb.RecordAuditResponse(recorded=self.audit.record(current_principal(), entries))

    def ListAudit(self, request, context):
        today = school_today()
        start = parse_day(getattr(request, "from"), "from") if getattr(request, "from") else today - timedelta(days=30)
        end = (parse_day(request.to, "to") if request.to else today) + timedelta(days=1)
        rows = self.audit.entries(
            current_principal(), student_id=request.student_id, actor_id=request.actor_id,
            start=datetime.combine(start, datetime.min.time(), SCHOOL_TIME), end=datetime.combine(end, datetime.min.time(), SCHOOL_TIME), limit=request.limit or 200,
        )
        return pb.ListAuditResponse(
            entries=[
                pb.AuditEntry(
                    id=r.id, at=r.at.isoformat(), school_id=r.school_id, actor_id=r.actor_id, actor_roles=r.actor_roles, action=r.action, resource=r.resource,
                    subject_kind=r.subject_kind, subject_id=r.subject_id, method=r.method, path=r.path, status=r.status, request_id=r.request_id, client_ip=r.client_ip,
                )
                for r in rows
            ]
        )

    def CountRequest(self, request, context):
        if not current_principal().is_service:
            raise NotFound("nie ma takiej usługi")
        if not (0 < len(request.key) <= 200 and request.limit > 0 and 0 < request.window_seconds <= 86400):
            raise InvalidArgument("niepoprawny limit", field_errors={"key": "1–200 znaków", "limit": "> 0", "window_seconds": "1–86400"})
        return pb.CountRequestResponse(remaining=self.limiter.count(request.key, request.limit, timedelta(seconds=request.window_seconds)))

    def ListStudentContacts(self, request, context):
        sheets = self.directory.list_student_contacts(current_principal(), request.school_id, list(request.class_ids), list(request.student_ids))
        return pb.ListStudentContactsResponse(students=[_contact_sheet(sheet) for sheet in sheets])

    def GetAuthorizationFacts(self, request, context):
        facts = self.directory.authorization_facts(current_principal(), request.user_id)
        return pb.GetAuthorizationFactsResponse(
            user_id=facts.user.id,
            school_id=facts.user.school_id or "",
            roles=[_role(r) for r in facts.user.role_names],
            children=facts.children,
            teaching=[pb.TeachingAssignment(class_id=c, subject_id=s) for c, s in facts.teaching],
            homeroom_class_ids=facts.homeroom_class_ids,
            class_id=facts.class_id,
            first_name=facts.user.first_name,
            last_name=facts.user.last_name,
        )

    def GetClassRoster(self, request, context):
        klass, school_name, students = self.directory.class_roster(current_principal(), request.class_id)
        return pb.GetClassRosterResponse(
            **{"class": _class(klass)},
            school_name=school_name,
            students=[pb.RosterStudent(id=s.id, first_name=s.first_name, last_name=s.last_name) for s in students],
        )

    def GetSchoolDirectory(self, request, context):
        people, enrolment, links, teaching, classes = self.directory.school_directory(current_principal(), request.school_id)
        return pb.GetSchoolDirectoryResponse(
            school_id=request.school_id,
            people=[pb.DirectoryPerson(id=p.id, first_name=p.first_name, last_name=p.last_name, roles=[_role(r) for r in p.role_names], class_id=enrolment.get(p.id, "")) for p in people],
            links=[pb.ParentChild(parent_id=a, student_id=b) for a, b in links],
            teaching=[pb.Teaching(teacher_id=t, class_id=c, subject_id=s) for t, c, s in teaching],
            classes=[_class(k) for k in classes],
        )

    def CheckAccess(self, request, context):
        granted = self.directory.check_access(current_principal(), request.student_id, request.feature)
        return pb.CheckAccessResponse(access=_access(granted), family=granted.family)

    # -- what the exports read --------------------------------------------------------------------

    @functools.cached_property
    def records(self) -> PersonalRecords:
        return PersonalRecords(self.directory.database)

    def ListPeople(self, request, context):
        found = self.records.people(current_principal(), list(request.user_ids))
        return pb.ListPeopleResponse(people=[_person(user, class_id) for user, class_id in found])

    def GetStudentRecord(self, request, context):
        record = self.records.student_record(current_principal(), request.student_id)
        student, school = record.student, record.school
        return pb.GetStudentRecordResponse(
            student_id=student.id,
            login=student.login,
            first_name=student.first_name,
            last_name=student.last_name,
            email=student.email,
            phone=student.phone,
            activated=student.password_hash is not None,
            created_at=aware(student.created_at).isoformat() if student.created_at else "",
            school=pb.School(id=school.id, name=school.name, access_policy=pb.AccessPolicy.Value(f"ACCESS_POLICY_{school.access_policy.upper()}")) if school else None,
            classes=[_class(k) for k in record.classes],
            parents=[_person(p, "") for p in record.parents],
            access=[pb.AccessHolding(holder_id=h.holder_id, product=h.product, valid_until=h.valid_until.isoformat()) for h in record.access],
        )


def _person(user: User, class_id: str) -> pb.DirectoryPerson:
    return pb.DirectoryPerson(id=user.id, first_name=user.first_name, last_name=user.last_name, roles=[_role(r) for r in user.role_names], class_id=class_id)


def _user(user: User, class_id: str) -> pb.User:
    return pb.User(
        id=user.id,
        login=user.login,
        first_name=user.first_name,
        last_name=user.last_name,
        roles=[_role(r) for r in user.role_names],
        school_id=user.school_id or "",
        class_id=class_id,
        activated=user.password_hash is not None,
    )


def _contact_sheet(sheet) -> pb.GetStudentContactsResponse:
    def contact(user) -> pb.Contact:
        return pb.Contact(user_id=user.id, first_name=user.first_name, last_name=user.last_name, phone=user.phone, sms_allowed=user.id in sheet.sms_allowed)

    return pb.GetStudentContactsResponse(
        student_id=sheet.student.id,
        school_id=sheet.student.school_id or "",
        first_name=sheet.student.first_name,
        last_name=sheet.student.last_name,
        parents=[contact(p) for p in sheet.parents],
        class_id=sheet.klass.id if sheet.klass else "",
        class_name=sheet.klass.name if sheet.klass else "",
        student=contact(sheet.student),
    )


def _moment(value: str) -> datetime:
    """An RFC 3339 moment from a recorder; a missing or malformed one is a bad request."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidArgument("niepoprawny czas wpisu", field_errors={"at": "RFC 3339"}) from None
    if moment.tzinfo is None:
        raise InvalidArgument("czas wpisu bez strefy", field_errors={"at": "RFC 3339 z przesunięciem strefy"})
    return moment
