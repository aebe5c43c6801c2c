"""Who is who, and who may see what: the facts the gateway and other services authorize with,
and extended access (entitlements) bought through billing."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Row, bindparam, exists, literal, select
from sqlalchemy.orm import Session

from dziennik.billing.v1 import events_pb2 as billing_events
from dziennik.identity.v1 import events_pb2
from platform_kit.auth import Principal
from platform_kit.clock import school_today as today
from platform_kit.bus import Event, EventType, record_event
from platform_kit.db import Database
from platform_kit.errors import ExtendedAccessRequired, NotFound, Unauthenticated
from services.identity import access, people
from services.identity.common import ACCESS_EXTENDED, now
from services.identity.orm import AddOn, AppliedPayment, Enrolment, Entitlement, ParentLink, School, SchoolClass, TeachingAssignment, User, UserRole

log = logging.getLogger(__name__)

PAYMENT_SETTLED = EventType("billing.payment_settled.v1", billing_events.PaymentSettled)
PAYMENT_REFUNDED = EventType("billing.payment_refunded.v1", billing_events.PaymentRefunded)


@dataclass(frozen=True)
class Access:
    extended: bool
    valid_until: date | None  # None with extended: no end (staff)
    family: bool = False  # check_access: the caller is the student or a linked parent


STAFF_ACCESS = Access(True, None)
NO_ACCESS = Access(False, None)
MAX_LISTED_STUDENTS = 1_000  # named students per ListStudentContacts call (a batch of grades has at most 60)

_users, _roles, _schools = User.__table__, UserRole.__table__, School.__table__
_links, _entitlements, _add_ons = ParentLink.__table__, Entitlement.__table__, AddOn.__table__
# A student (a user with the student role), their school's policy, and what the caller holds for
# them: a parent link, extended access, the SMS add-on (check_access).
_enrolments, _classes = Enrolment.__table__, SchoolClass.__table__
_IDS = bindparam("ids", expanding=True)
# Statements of the hot questions, built once: building one per call (and its cache key) cost
# more than running it.
_STUDENT = (
    select(_users.c.id, _users.c.school_id, _users.c.first_name, _users.c.last_name, _users.c.phone, _schools.c.extended_features)
    .join(_schools, _schools.c.id == _users.c.school_id)
    .where(_users.c.id == bindparam("student_id"), exists().where(_roles.c.user_id == _users.c.id, _roles.c.role == "student"))
)
_SCHOOL_FEATURES = select(_schools.c.extended_features).where(_schools.c.id == bindparam("school_id"))
_LISTED_STUDENTS = select(_users.c.id, _users.c.school_id, _users.c.first_name, _users.c.last_name, _users.c.phone).order_by(
    _users.c.last_name, _users.c.first_name
)
_PARENTS = (
    select(_links.c.student_id, _users.c.id, _users.c.first_name, _users.c.last_name, _users.c.phone)
    .join(_users, _users.c.id == _links.c.parent_id)
    .where(_links.c.student_id.in_(_IDS))
    .order_by(_users.c.last_name, _users.c.first_name)
)
_CLASSES = (
    select(_enrolments.c.student_id, _classes.c.id, _classes.c.name)
    .join(_classes, _classes.c.id == _enrolments.c.class_id)
    .where(_enrolments.c.student_id.in_(_IDS))
    .order_by(_enrolments.c.school_year)
)
_STUDENT_FACTS = (
    select(
        _users.c.id,
        _users.c.school_id,
        _users.c.first_name,
        _users.c.last_name,
        # The latest school year's class, as in the contact sheet.
        select(_enrolments.c.class_id)
        .where(_enrolments.c.student_id == _users.c.id)
        .order_by(_enrolments.c.school_year.desc())
        .limit(1)
        .scalar_subquery()
        .label("class_id"),
        _links.c.parent_id,
    )
    .outerjoin(_links, _links.c.student_id == _users.c.id)
    .where(_users.c.id == bindparam("student_id"), exists().where(_roles.c.user_id == _users.c.id, _roles.c.role == "student"))
)
_HOLDINGS = select(_entitlements.c.holder_id, _entitlements.c.student_id, literal("extended").label("kind")).where(
    _entitlements.c.student_id.in_(_IDS), _entitlements.c.valid_until >= bindparam("day")
).union_all(
    select(_add_ons.c.holder_id, _add_ons.c.student_id, literal("sms").label("kind")).where(
        _add_ons.c.student_id.in_(_IDS), _add_ons.c.product == "sms_alerts", _add_ons.c.valid_until >= bindparam("day")
    )
)
_ACCESS_FACTS = (
    select(
        _users.c.school_id,
        _schools.c.extended_features,
        exists().where(_links.c.parent_id == bindparam("caller_id"), _links.c.student_id == _users.c.id).label("parent"),
        select(_entitlements.c.valid_until)
        .where(_entitlements.c.holder_id == bindparam("caller_id"), _entitlements.c.student_id == _users.c.id)
        .scalar_subquery()
        .label("extended_until"),
        select(_add_ons.c.valid_until)
        .where(_add_ons.c.holder_id == bindparam("caller_id"), _add_ons.c.student_id == _users.c.id, _add_ons.c.product == "sms_alerts")
        .scalar_subquery()
        .label("sms_until"),
    )
    .select_from(_users.join(_roles, (_roles.c.user_id == _users.c.id) & (_roles.c.role == "student")).outerjoin(_schools, _schools.c.id == _users.c.school_id))
    .where(_users.c.id == bindparam("student_id"))
)


@dataclass(frozen=True)
class ChildView:
    student: User
    klass: SchoolClass | None
    access: Access
    sms_allowed: bool = False
    sms_add_on_until: date | None = None


@dataclass(frozen=True)
class Me:
    user: User
    children: list[ChildView]
    access: Access
    mfa_enabled: bool
    mfa_enrollment_required: bool


@dataclass(frozen=True)
class ContactSheet:
    """A student with their class and parents, and who of them (the student included) the
    school's policy lets get SMS alerts about the student."""

    student: User | Row  # a row with the User columns the answer reads
    klass: SchoolClass | Row | None
    parents: list[User | Row]
    sms_allowed: frozenset[str]


@dataclass(frozen=True)
class StudentFacts:
    """Who a student is to authorize with: school, class, parents."""

    id: str
    school_id: str
    first_name: str
    last_name: str
    class_id: str
    parent_ids: list[str]


@dataclass(frozen=True)
class Facts:
    user: User
    children: list[str]
    teaching: list[tuple[str, str]]
    homeroom_class_ids: list[str]
    class_id: str


class Directory:
    def __init__(self, database: Database) -> None:
        self.database = database

    def me(self, caller: Principal) -> Me:
        with self.database.transaction() as session:
            user = session.get(User, caller.user_id)
            if user is None:
                raise Unauthenticated("konto nie istnieje")
            children = [
                _child_view(session, user, child)
                for child in session.scalars(
                    select(User).join(ParentLink, ParentLink.student_id == User.id).where(ParentLink.parent_id == user.id).order_by(User.first_name)
                )
            ]
            return Me(
                user=user,
                children=children,
                access=_own_access(session, user, children),
                mfa_enabled=user.totp_confirmed_at is not None,
                mfa_enrollment_required=caller.mfa_enrollment_required,
            )

    def student_contacts(self, caller: Principal, student_id: str) -> ContactSheet:
        """The student, their parents and class; for services and the school's staff."""
        with self.database.reading() as session:
            # Asked for every grade written, every alert planned and every grades page gradebook
            # has no copy of: plain rows, statements built once (services/identity/directory.py).
            student = session.execute(_STUDENT, {"student_id": student_id}).first() if student_id else None
            if student is None:
                raise NotFound("nie ma takiego ucznia")
            staff_here = caller.school_id == student.school_id and caller.has_any_role(*people.STAFF_ROLES)
            if not (caller.is_service or staff_here):
                raise NotFound("nie ma takiego ucznia")
            return _contact_sheets(session, student.extended_features or [], [student])[0]

    def student_facts(self, caller: Principal, student_id: str) -> StudentFacts:
        """The student's school, class and parents in one statement; for services and the
        school's staff (who may see the contact sheet may see this)."""
        with self.database.reading() as session:
            rows = session.execute(_STUDENT_FACTS, {"student_id": student_id}).all() if student_id else []
        if not rows:
            raise NotFound("nie ma takiego ucznia")
        student = rows[0]
        if not (caller.is_service or (caller.school_id == student.school_id and caller.has_any_role(*people.STAFF_ROLES))):
            raise NotFound("nie ma takiego ucznia")
        return StudentFacts(
            student.id, student.school_id or "", student.first_name, student.last_name, student.class_id or "", sorted(r.parent_id for r in rows if r.parent_id)
        )

    def list_student_contacts(self, caller: Principal, school_id: str, class_ids: list[str], student_ids: list[str] = ()) -> list[ContactSheet]:
        """Every student of a school, or of some of its classes, or just the students named, with
        their contacts (services only). Asked for every batch of grades notify plans alerts for:
        plain rows, no transaction around them (like `student_contacts`)."""
        if not caller.is_service:
            raise NotFound("nie ma takiej szkoły")
        with self.database.reading() as session:
            school = session.execute(_SCHOOL_FEATURES, {"school_id": school_id}).first() if school_id else None
            if school is None:
                raise NotFound("nie ma takiej szkoły")
            classes = select(_classes.c.id).where(_classes.c.school_id == school_id)
            if class_ids:
                classes = classes.where(_classes.c.id.in_(class_ids))
            enrolled = select(_enrolments.c.student_id).where(_enrolments.c.class_id.in_(classes))
            if student_ids:
                enrolled = enrolled.where(_enrolments.c.student_id.in_(student_ids[:MAX_LISTED_STUDENTS]))
            students = session.execute(_LISTED_STUDENTS.where(_users.c.id.in_(enrolled))).all()
            return _contact_sheets(session, school.extended_features or [], students)

    def class_roster(self, caller: Principal, class_id: str) -> tuple[SchoolClass, str, list[User]]:
        """A class, its school's name and its students; for services and the school's staff."""
        with self.database.transaction() as session:
            klass = session.get(SchoolClass, class_id) if class_id else None
            if klass is None or not (caller.is_service or (caller.school_id == klass.school_id and caller.has_any_role(*people.STAFF_ROLES))):
                raise NotFound("nie ma takiej klasy")
            students = list(
                session.scalars(
                    select(User).join(Enrolment, Enrolment.student_id == User.id).where(Enrolment.class_id == klass.id).order_by(User.last_name, User.first_name)
                )
            )
            return klass, session.get(School, klass.school_id).name, students

    def school_directory(self, caller: Principal, school_id: str):
        """Everyone in the school with their classes, links and teaching (services only)."""
        if not caller.is_service:
            raise NotFound("nie ma takiej szkoły")
        with self.database.transaction() as session:
            people = list(session.scalars(select(User).where(User.school_id == school_id)))
            classes = list(session.scalars(select(SchoolClass).where(SchoolClass.school_id == school_id)))
            class_ids = [c.id for c in classes]
            enrolment = {e.student_id: e.class_id for e in session.scalars(select(Enrolment).where(Enrolment.class_id.in_(class_ids)).order_by(Enrolment.school_year))}
            ids = [p.id for p in people]
            links = [(l.parent_id, l.student_id) for l in session.scalars(select(ParentLink).where(ParentLink.student_id.in_(ids)))]
            teaching = [(t.teacher_id, t.class_id, t.subject_id) for t in session.scalars(select(TeachingAssignment).where(TeachingAssignment.class_id.in_(class_ids)))]
            return people, enrolment, links, teaching, classes

    def authorization_facts(self, caller: Principal, user_id: str) -> Facts:
        """What `user_id` may touch; for services, and for a user asking about themself."""
        if not (caller.is_service or caller.user_id == user_id):
            raise NotFound("nie ma takiego użytkownika")
        with self.database.transaction() as session:
            user = session.get(User, user_id) if user_id else None
            if user is None:
                raise NotFound("nie ma takiego użytkownika")
            children = list(session.scalars(select(ParentLink.student_id).where(ParentLink.parent_id == user.id)))
            teaching = [
                (a.class_id, a.subject_id) for a in session.scalars(select(TeachingAssignment).where(TeachingAssignment.teacher_id == user.id))
            ]
            homeroom = list(session.scalars(select(SchoolClass.id).where(SchoolClass.homeroom_teacher_id == user.id)))
            klass = _class_of(session, user.id)
            return Facts(user, children, teaching, homeroom, klass.id if klass else "")

    def check_access(self, caller: Principal, student_id: str, feature: str) -> Access:
        """May the caller use `feature` of this student's data? 404 for a student the caller may
        not see; 402 when the school's policy asks for extended access the caller lacks. Asked for
        most requests about a student (the grades page at 8:00): one statement of plain rows."""
        if not student_id:
            raise NotFound("nie ma takiego ucznia")
        with self.database.reading() as session:
            facts = session.execute(_ACCESS_FACTS, {"student_id": student_id, "caller_id": caller.user_id}).first()
        if facts is None:
            raise NotFound("nie ma takiego ucznia")
        if caller.is_service or (caller.school_id == facts.school_id and caller.has_any_role(*people.STAFF_ROLES)):
            return STAFF_ACCESS  # staff's object-level checks are the data service's
        own = caller.user_id == student_id
        if not (own or facts.parent):
            raise NotFound("nie ma takiego ucznia")
        granted = Access(access.is_extended(facts.extended_until, today()), facts.extended_until, family=True)
        features = facts.extended_features or []
        if feature == "sms_alerts":
            allowed = access.sms_allowed(features, granted.extended, access.is_extended(facts.sms_until, today()))
        else:
            allowed = feature not in features or granted.extended
        if not allowed:
            raise ExtendedAccessRequired(
                "ta funkcja wymaga dostępu rozszerzonego (22 zł na 12 miesięcy)" if facts.parent else "ta funkcja wymaga dostępu rozszerzonego"
            )
        return granted

    # -- events -----------------------------------------------------------------------------------

    def on_payment_settled(self, session: Session, event: Event) -> None:
        """Extended access (or an add-on) paid: the parent's for that child and the child's own
        account, for the same period, counted from the current end while it is still valid."""
        payment: billing_events.PaymentSettled = event.message
        product = payment.product or access.EXTENDED_ACCESS
        if product != access.EXTENDED_ACCESS and product not in access.ADD_ONS:
            log.error("PaymentSettled %s for an unknown product %r; nothing extended", event.event_id, product)
            return
        if payment.order_id and session.get(AppliedPayment, payment.order_id) is not None:
            log.warning("order %s was applied before (event %s); nothing extended", payment.order_id, event.event_id)
            return
        months = payment.period_months or 12
        student = session.get(User, payment.student_id)
        if student is None or "student" not in student.role_names:
            log.error("PaymentSettled %s names no student (%s); nothing extended", event.event_id, payment.student_id)
            return
        if payment.order_id:
            session.add(AppliedPayment(order_id=payment.order_id, applied_at=now()))
        day = today()
        holders = [payment.parent_id] if payment.parent_id and session.get(ParentLink, (payment.parent_id, student.id)) else []
        if payment.parent_id and not holders:
            log.error("PaymentSettled %s: %s is not a parent of %s; only the student's access is extended", event.event_id, payment.parent_id, student.id)
        parent_until = None
        for holder_id in holders:
            parent_until = _extend(session, holder_id, student.id, access.extended_until(_valid_until(session, holder_id, student.id, product), day, months), product)
        own = access.extended_until(_valid_until(session, student.id, student.id, product), day, months)
        _extend(session, student.id, student.id, max(own, parent_until) if parent_until else own, product)
        record_event(
            session,
            ACCESS_EXTENDED,
            events_pb2.AccessExtended(
                school_id=student.school_id or "",
                parent_id=payment.parent_id,
                student_id=student.id,
                valid_until=(parent_until or own).isoformat(),
                product=product,
                payment_event_id=event.event_id,
            ),
            school_id=student.school_id,
            subject=student.id,
        )


def on_payment_refunded(session: Session, event: Event) -> None:
    """A refunded order takes back the months it bought, from the parent's access for that child
    and from the child's own (never further back than yesterday: it simply ends)."""
    refund: billing_events.PaymentRefunded = event.message
    product = refund.product or access.EXTENDED_ACCESS
    if product != access.EXTENDED_ACCESS and product not in access.ADD_ONS:
        return
    months = refund.period_months or 12
    yesterday = today() - timedelta(days=1)
    for holder_id in {refund.parent_id, refund.student_id} - {""}:
        entitlement = _holding(session, holder_id, refund.student_id, product)
        if entitlement is None:
            continue
        shortened = access.add_months(entitlement.valid_until + timedelta(days=1), -months) - timedelta(days=1)
        entitlement.valid_until = max(shortened, yesterday) if shortened < entitlement.valid_until else entitlement.valid_until
        entitlement.updated_at = now()


def _student(session: Session, student_id: str) -> User:
    student = session.get(User, student_id) if student_id else None
    if student is None or "student" not in student.role_names:
        raise NotFound("nie ma takiego ucznia")
    return student


def _class_of(session: Session, student_id: str) -> SchoolClass | None:
    """The student's class in the latest school year they are enrolled in."""
    return session.scalar(
        select(SchoolClass).join(Enrolment, Enrolment.class_id == SchoolClass.id).where(Enrolment.student_id == student_id).order_by(Enrolment.school_year.desc())
    )


def _holding(session: Session, holder_id: str, student_id: str, product: str) -> Entitlement | AddOn | None:
    """The row that keeps how long `holder_id` has `product` for the student."""
    if product == access.EXTENDED_ACCESS:
        return session.get(Entitlement, (holder_id, student_id))
    return session.get(AddOn, (holder_id, student_id, product))


def _valid_until(session: Session, holder_id: str, student_id: str, product: str = access.EXTENDED_ACCESS) -> date | None:
    holding = _holding(session, holder_id, student_id, product)
    return holding.valid_until if holding else None


def _entitlement(session: Session, holder_id: str, student_id: str) -> Access:
    until = _valid_until(session, holder_id, student_id)
    return Access(access.is_extended(until, today()), until)


def _extend(session: Session, holder_id: str, student_id: str, until: date, product: str = access.EXTENDED_ACCESS) -> date:
    entitlement = _holding(session, holder_id, student_id, product)
    if entitlement is None:
        if product == access.EXTENDED_ACCESS:
            session.add(Entitlement(holder_id=holder_id, student_id=student_id, valid_until=until, updated_at=now()))
        else:
            session.add(AddOn(holder_id=holder_id, student_id=student_id, product=product, valid_until=until, updated_at=now()))
    else:
        entitlement.valid_until = until
        entitlement.updated_at = now()
    session.flush()
    return until


def _child_view(session: Session, parent: User, child: User) -> ChildView:
    granted = _entitlement(session, parent.id, child.id)
    add_on_until = _valid_until(session, parent.id, child.id, "sms_alerts")
    school = session.get(School, child.school_id)
    allowed = access.sms_allowed(school.extended_features or [] if school else [], granted.extended, access.is_extended(add_on_until, today()))
    return ChildView(child, _class_of(session, child.id), granted, allowed, add_on_until)


def _contact_sheets(session: Session, features: list[str], students: list) -> list[ContactSheet]:
    """Contacts of many students in three queries of plain rows (an announcement reaches a whole
    school; every grade's alert asks for one student)."""
    ids = [s.id for s in students]
    if not ids:
        return []
    parents: dict[str, list[Row]] = {}
    for parent in session.execute(_PARENTS, {"ids": ids}):
        parents.setdefault(parent.student_id, []).append(parent)
    class_of: dict[str, Row] = {}
    for klass in session.execute(_CLASSES, {"ids": ids}):
        class_of[klass.student_id] = klass  # the latest school year wins
    held = {(h.kind, h.holder_id, h.student_id) for h in session.execute(_HOLDINGS, {"ids": ids, "day": today()})}
    sheets = []
    for student in students:
        holders = [p.id for p in parents.get(student.id, [])] + [student.id]
        allowed = frozenset(
            h for h in holders if access.sms_allowed(features, ("extended", h, student.id) in held, ("sms", h, student.id) in held)
        )
        sheets.append(ContactSheet(student, class_of.get(student.id), parents.get(student.id, []), allowed))
    return sheets


def _own_access(session: Session, user: User, children: list[ChildView]) -> Access:
    roles = set(user.role_names)
    if roles & set(people.STAFF_ROLES) or "superadmin" in roles:
        return STAFF_ACCESS
    if "student" in roles:
        return _entitlement(session, user.id, user.id)
    extended = [c.access.valid_until for c in children if c.access.extended]
    return Access(True, max(extended)) if extended else NO_ACCESS
