"""Identity's tables."""
from __future__ import annotations

from datetime import datetime

from datetime import date

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from platform_kit.bus import define_bus_tables


class Base(DeclarativeBase):
    metadata = MetaData()


define_bus_tables(Base.metadata)


class School(Base):
    __tablename__ = "schools"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    access_policy: Mapped[str] = mapped_column(String(20), default="brochure")
    # Features that need extended access in this school, from its policy preset (data, not code).
    extended_features: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    school_id: Mapped[str | None] = mapped_column(ForeignKey("schools.id"), nullable=True, index=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")
    activation_code_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    activation_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The last TOTP time step accepted: a code is accepted once.
    totp_last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    roles: Mapped[list["UserRole"]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def role_names(self) -> list[str]:
        return sorted(r.role for r in self.roles)


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True)


class ParentLink(Base):
    __tablename__ = "parent_links"

    parent_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    student_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)


class RefreshToken(Base):
    """One refresh token of a session (`family_id`); rotation replaces it, reuse revokes the family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # How the session was authenticated (RFC 8176 values): "pwd" or "pwd otp".
    amr: Mapped[str] = mapped_column(String(40), default="pwd")
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SigningKey(Base):
    """Ed25519 keys that sign access tokens; the public halves are the JWKS."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SchoolClass(Base):
    __tablename__ = "classes"
    __table_args__ = (UniqueConstraint("school_id", "school_year", "name", name="uq_class_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"), index=True)
    name: Mapped[str] = mapped_column(String(20))
    school_year: Mapped[str] = mapped_column(String(9))
    homeroom_teacher_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)


class Enrolment(Base):
    """A student in a class for its school year (one class per student and year)."""

    __tablename__ = "enrolments"
    __table_args__ = (UniqueConstraint("student_id", "school_year", name="uq_enrolment_year"),)

    student_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    class_id: Mapped[str] = mapped_column(ForeignKey("classes.id"), primary_key=True, index=True)
    school_year: Mapped[str] = mapped_column(String(9))


class TeachingAssignment(Base):
    """A teacher teaches a subject (gradebook's id) in a class."""

    __tablename__ = "teaching_assignments"
    __table_args__ = (UniqueConstraint("teacher_id", "class_id", "subject_id", name="uq_teaching"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    teacher_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    class_id: Mapped[str] = mapped_column(ForeignKey("classes.id"), index=True)
    subject_id: Mapped[str] = mapped_column(String(36))


class Entitlement(Base):
    """Extended access of a holder (a parent, or the student themself) to one student's data."""

    __tablename__ = "entitlements"

    holder_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    student_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    valid_until: Mapped[date] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AddOn(Base):
    """An add-on (such as sms_alerts) a holder bought for one student, valid until a day."""

    __tablename__ = "add_ons"

    holder_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    student_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    product: Mapped[str] = mapped_column(String(40), primary_key=True)
    valid_until: Mapped[date] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """Who read or changed which student's data, when, through which request (RODO)."""

    __tablename__ = "audit_entries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    school_id: Mapped[str] = mapped_column(String(36), index=True)
    actor_id: Mapped[str] = mapped_column(String(36), index=True)
    actor_roles: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(10))
    resource: Mapped[str] = mapped_column(String(40))
    subject_kind: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[str] = mapped_column(String(36), index=True)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(300))
    status: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str] = mapped_column(String(128))
    client_ip: Mapped[str] = mapped_column(String(64))


class RequestCounter(Base):
    """Requests counted per key in a fixed window (rate limits shared by the gateway's replicas)."""

    __tablename__ = "request_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    hits: Mapped[int] = mapped_column(Integer)


class LoginThrottle(Base):
    """Failed sign-ins counted per key ("account+address:…" or "address:…")."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AppliedPayment(Base):
    """A billing order already turned into extended access: the same order never extends twice,
    even if billing were to report it again under another event id."""

    __tablename__ = "applied_payments"

    order_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# Every transaction changing what other services keep copies of records PeopleChanged (imported
# last: it names the classes above).
import services.identity.changes  # noqa: E402,F401
