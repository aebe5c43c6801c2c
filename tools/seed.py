"""Setting up a school through the services' public gRPC contracts, as a school's secretary
would through the API: used by the demo loader and by test fixtures."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import grpc
import pyotp

from dziennik.billing.v1 import billing_pb2, billing_pb2_grpc
from dziennik.gradebook.v1 import gradebook_pb2, gradebook_pb2_grpc
from dziennik.identity.v1 import identity_pb2, identity_pb2_grpc
from dziennik.notify.v1 import notify_pb2, notify_pb2_grpc
from platform_kit.auth import bearer_metadata

STAFF = ("school_admin", "principal", "teacher")


@dataclass
class Person:
    id: str
    login: str
    password: str
    totp_secret: str | None = None
    last_step: int = field(default=0, repr=False)

    def next_code(self) -> str:
        """A TOTP code for a time step not used yet (each code is accepted once): the current
        step, or the next one, which the server also accepts for clock drift."""
        totp = pyotp.TOTP(self.totp_secret)
        while True:
            current = totp.timecode(time.time())
            step = max(current, self.last_step + 1)
            if step <= current + 1:
                break
            time.sleep(30 - time.time() % 30 + 0.1)  # both usable steps are spent: wait for the next
        self.last_step = step
        return totp.generate_otp(step)


class Seeder:
    def __init__(
        self, identity_channel: grpc.Channel, gradebook_channel: grpc.Channel, notify_channel: grpc.Channel | None = None, billing_channel: grpc.Channel | None = None
    ) -> None:
        self.identity = identity_pb2_grpc.IdentityServiceStub(identity_channel)
        self.gradebook = gradebook_pb2_grpc.GradebookServiceStub(gradebook_channel)
        self.notify = notify_pb2_grpc.NotifyServiceStub(notify_channel) if notify_channel is not None else None
        self.billing = billing_pb2_grpc.BillingServiceStub(billing_channel) if billing_channel is not None else None

    def pay_cash(self, office: tuple, parent: Person, student: Person, product: str) -> None:
        """The parent orders `product` for the child and the secretary records the cash paid."""
        order = self.billing.CreateOrder(billing_pb2.CreateOrderRequest(product=product, student_id=student.id, channel="cash"), metadata=self.sign_in(parent)).order
        self.billing.RecordCashPayment(billing_pb2.RecordCashPaymentRequest(order_id=order.id, amount=order.amount, currency=order.currency), metadata=office)

    def sms_alerts_on(self, person: Person) -> None:
        """The person turns SMS alerts on (grades, absences, announcements…) at the school-entered number."""
        settings = notify_pb2.Settings(sms_enabled=True, events=["grade_recorded", "grade_changed", "term_grade_set", "absence_recorded", "excuse_decided", "announcement_published", "access_extended", "access_expiring"])
        self.notify.UpdateSettings(settings, metadata=self.sign_in(person))

    def sign_in(self, person: Person) -> tuple[tuple[str, str], ...]:
        """gRPC metadata carrying a fresh access token of `person` (with the second factor if set)."""
        answer = self.identity.Login(identity_pb2.LoginRequest(login=person.login, password=person.password, client_ip="127.0.0.1"))
        tokens = answer.tokens
        if answer.mfa_required:
            tokens = self.identity.VerifyMfa(
                identity_pb2.VerifyMfaRequest(mfa_token=answer.mfa_token, code=person.next_code(), client_ip="127.0.0.1")
            ).tokens
        return bearer_metadata(tokens.access_token)

    def school(self, admin: tuple, name: str, policy: str = "brochure") -> str:
        request = identity_pb2.CreateSchoolRequest(name=name, access_policy=identity_pb2.AccessPolicy.Value(f"ACCESS_POLICY_{policy.upper()}"))
        return self.identity.CreateSchool(request, metadata=admin).id

    def find_school(self, admin: tuple, name: str) -> str | None:
        schools = self.identity.ListSchools(identity_pb2.ListSchoolsRequest(), metadata=admin).schools
        return next((s.id for s in schools if s.name == name), None)

    def person(
        self,
        admin: tuple,
        school_id: str,
        role: str,
        first_name: str,
        last_name: str,
        password: str,
        *,
        phone: str = "",
        class_id: str = "",
        children: tuple[Person, ...] = (),
    ) -> Person:
        """Create an account and activate it with `password`, as its owner would; staff also
        enrol their second factor, which they must before the API lets them work."""
        created = self.identity.CreateUser(
            identity_pb2.CreateUserRequest(
                role=identity_pb2.Role.Value(f"ROLE_{role.upper()}"),
                first_name=first_name,
                last_name=last_name,
                school_id=school_id,
                phone=phone,
                class_id=class_id,
                children=[c.id for c in children],
            ),
            metadata=admin,
        )
        self.identity.Activate(identity_pb2.ActivateRequest(activation_code=created.activation_code, password=password))
        person = Person(created.id, created.login, password)
        if role in STAFF:
            self.enrol_totp(person)
        return person

    def enrol_totp(self, person: Person) -> None:
        signed_in = self.sign_in(person)
        person.totp_secret = self.identity.EnrollTotp(identity_pb2.EnrollTotpRequest(), metadata=signed_in).secret
        self.identity.ConfirmTotp(identity_pb2.ConfirmTotpRequest(code=person.next_code()), metadata=signed_in)

    def link(self, admin: tuple, parent: Person, student: Person) -> None:
        self.identity.LinkParent(identity_pb2.LinkParentRequest(parent_id=parent.id, student_id=student.id), metadata=admin)

    def school_class(self, admin: tuple, school_id: str, name: str, school_year: str, homeroom: Person | None = None) -> str:
        request = identity_pb2.CreateClassRequest(name=name, school_year=school_year, school_id=school_id, homeroom_teacher_id=homeroom.id if homeroom else "")
        return self.identity.CreateClass(request, metadata=admin).id

    def subject(self, school_admin: tuple, name: str, short_name: str = "") -> str:
        return self.gradebook.CreateSubject(gradebook_pb2.CreateSubjectRequest(name=name, short_name=short_name), metadata=school_admin).id

    def assign(self, admin: tuple, teacher: Person, class_id: str, subject_id: str) -> None:
        request = identity_pb2.CreateTeachingAssignmentRequest(teacher_id=teacher.id, class_id=class_id, subject_id=subject_id)
        self.identity.CreateTeachingAssignment(request, metadata=admin)
