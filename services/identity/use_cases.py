"""What identity does: sign people in, create schools and accounts, answer who a student's parents are."""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from dziennik.identity.v1 import events_pb2, identity_pb2
from platform_kit.auth import Principal
from platform_kit.bus import EventType, record_event
from platform_kit.db import Database
from platform_kit.errors import Conflict, InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from services.identity import credentials, people
from services.identity.orm import ParentLink, RefreshToken, School, SigningKey, User, UserRole

log = logging.getLogger(__name__)

USER_CREATED = EventType("identity.user_created.v1", events_pb2.UserCreated)
ACTIVATION_VALID_FOR = timedelta(days=14)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class Identity:
    def __init__(self, database: Database, *, access_ttl: timedelta, refresh_ttl: timedelta) -> None:
        self.database = database
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self._keys: credentials.SigningKeys | None = None

    # -- keys ---------------------------------------------------------------------------------

    def ensure_signing_key(self) -> None:
        """Create the first signing key; replicas starting together agree on one."""
        with self.database.transaction() as session:
            if self.database.is_postgresql:
                session.execute(text("SELECT pg_advisory_xact_lock(hashtext('identity.signing_keys'))"))
            if session.scalar(select(func.count()).select_from(SigningKey)) == 0:
                kid, pem = credentials.SigningKeys.generate()
                session.add(SigningKey(kid=kid, private_pem=pem, created_at=_now()))
        self._keys = None

    @property
    def keys(self) -> credentials.SigningKeys:
        if self._keys is None:
            with self.database.transaction() as session:
                rows = session.scalars(select(SigningKey).order_by(SigningKey.created_at)).all()
                self._keys = credentials.SigningKeys({r.kid: r.private_pem for r in rows})
        return self._keys

    def jwks_json(self) -> str:
        return self.keys.jwks_json()

    # -- sign-in ------------------------------------------------------------------------------

    def ensure_superadmin(self, login: str, password: str) -> None:
        """Create the platform operator's account if it does not exist yet (start-up, idempotent)."""
        people.check_password(password)
        with self.database.transaction() as session:
            if session.scalar(select(User).where(User.login == login)) is not None:
                return
            user = self._new_user(session, login=login, role="superadmin", first_name="Administrator", last_name="Platformy", school_id=None)
            user.password_hash = credentials.hash_password(password)
        log.info("created superadmin %s", login)

    def login(self, login: str, password: str) -> TokenPair:
        with self.database.transaction() as session:
            user = session.scalar(select(User).where(User.login == login.strip().lower()))
            if not credentials.verify_password(user.password_hash if user else None, password):
                raise Unauthenticated("nieprawidłowy login lub hasło", code="invalid_credentials")
            if credentials.PASSWORDS.check_needs_rehash(user.password_hash):
                user.password_hash = credentials.hash_password(password)
            return self._issue(session, user, family_id=str(uuid.uuid4()))

    def refresh(self, refresh_token: str) -> TokenPair:
        with self.database.transaction() as session:
            token = session.scalar(select(RefreshToken).where(RefreshToken.token_hash == credentials.digest(refresh_token)))
            if token is None or token.revoked_at is not None or _aware(token.expires_at) <= _now():
                raise Unauthenticated("sesja wygasła", code="unauthenticated")
            if token.used_at is None:
                token.used_at = _now()
                return self._issue(session, session.get(User, token.user_id), family_id=token.family_id)
            family_id = token.family_id
        # A used token came back: someone replayed it, so the whole session ends.
        self._revoke_family(family_id)
        raise Unauthenticated("sesja wygasła", code="unauthenticated")

    def logout(self, caller: Principal) -> None:
        """End the caller's sign-in session: its refresh tokens stop working."""
        if caller.session_id:
            self._revoke_family(caller.session_id)

    def _revoke_family(self, family_id: str) -> None:
        with self.database.transaction() as session:
            for token in session.scalars(select(RefreshToken).where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))):
                token.revoked_at = _now()

    def _issue(self, session: Session, user: User, *, family_id: str) -> TokenPair:
        refresh = credentials.new_secret()
        session.add(
            RefreshToken(
                id=str(uuid.uuid4()),
                token_hash=credentials.digest(refresh),
                family_id=family_id,
                user_id=user.id,
                expires_at=_now() + self.refresh_ttl,
            )
        )
        access = self.keys.access_token(user_id=user.id, school_id=user.school_id, roles=user.role_names, session_id=family_id, ttl=self.access_ttl)
        return TokenPair(access, refresh, int(self.access_ttl.total_seconds()))

    def activate(self, code: str, password: str) -> str:
        people.check_password(password)
        with self.database.transaction() as session:
            user = session.scalar(
                select(User).where(User.activation_code_hash == credentials.digest(credentials.normalise_activation_code(code)))
            )
            if user is None or user.activation_expires_at is None or _aware(user.activation_expires_at) <= _now():
                raise NotFound("kod aktywacyjny jest nieprawidłowy lub wygasł")
            user.password_hash = credentials.hash_password(password)
            user.activation_code_hash = None  # single use
            user.activation_expires_at = None
            return user.login

    # -- schools and accounts -------------------------------------------------------------------

    def create_school(self, caller: Principal, name: str) -> str:
        if "superadmin" not in caller.roles:
            raise PermissionDenied("szkoły zakłada operator platformy")
        name = people.check_name("name", name)
        with self.database.transaction() as session:
            if session.scalar(select(School).where(School.name == name)) is not None:
                raise Conflict("szkoła o tej nazwie już istnieje")
            school = School(id=str(uuid.uuid4()), name=name, access_policy="brochure", created_at=_now())
            session.add(school)
        return school.id

    def list_schools(self, caller: Principal) -> list[School]:
        with self.database.transaction() as session:
            query = select(School).order_by(School.name)
            if "superadmin" not in caller.roles:
                query = query.where(School.id == caller.school_id)
            return list(session.scalars(query))

    def create_user(
        self, caller: Principal, *, role: str, first_name: str, last_name: str, school_id: str, email: str = "", phone: str = ""
    ) -> tuple[User, str]:
        """A school-created account; returns it with its one-time activation code."""
        if role not in people.ROLES or role == "superadmin":
            raise InvalidArgument("nieznana rola", field_errors={"role": f"Jedna z: {', '.join(people.ROLES[1:])}."})
        if "superadmin" in caller.roles:
            if not school_id:
                raise InvalidArgument("brak szkoły", field_errors={"school_id": "Wskaż szkołę."})
        elif "school_admin" in caller.roles:
            if school_id and school_id != caller.school_id:
                raise NotFound("nie ma takiej szkoły")
            school_id = caller.school_id or ""
        else:
            raise PermissionDenied("konta zakłada sekretariat szkoły")
        first_name = people.check_name("first_name", first_name)
        last_name = people.check_name("last_name", last_name)
        phone = people.normalise_phone(phone)
        code = credentials.new_activation_code()
        with self.database.transaction() as session:
            if session.get(School, school_id) is None:
                raise NotFound("nie ma takiej szkoły")
            user = self._new_user(
                session,
                login=self._free_login(session, people.login_stem(first_name, last_name)),
                role=role,
                first_name=first_name,
                last_name=last_name,
                school_id=school_id,
                email=email.strip(),
                phone=phone,
            )
            user.activation_code_hash = credentials.digest(code)
            user.activation_expires_at = _now() + ACTIVATION_VALID_FOR
        return user, code

    def _new_user(self, session: Session, *, login: str, role: str, first_name: str, last_name: str, school_id: str | None, email: str = "", phone: str = "") -> User:
        user = User(
            id=str(uuid.uuid4()),
            school_id=school_id,
            login=login,
            first_name=first_name,
            last_name=last_name,
            email=email,
            phone=phone,
            created_at=_now(),
            roles=[UserRole(role=role)],
        )
        session.add(user)
        created_at = Timestamp()
        created_at.FromDatetime(user.created_at)
        record_event(
            session,
            USER_CREATED,
            events_pb2.UserCreated(user_id=user.id, school_id=school_id or "", roles=[_role_enum(role)], created_at=created_at),
            school_id=school_id,
            subject=user.id,
        )
        return user

    @staticmethod
    def _free_login(session: Session, stem: str) -> str:
        taken = set(session.scalars(select(User.login).where(User.login.like(f"{stem}%"))))
        if stem not in taken:
            return stem
        number = 2
        while f"{stem}{number}" in taken:
            number += 1
        return f"{stem}{number}"

    def link_parent(self, caller: Principal, parent_id: str, student_id: str) -> None:
        with self.database.transaction() as session:
            parent, student = session.get(User, parent_id), session.get(User, student_id)
            for user, role, field in ((parent, "parent", "parent_id"), (student, "student", "student_id")):
                if user is None or not self._may_administer(caller, user.school_id) or role not in user.role_names:
                    raise NotFound("nie ma takiego użytkownika", code="not_found")
            if parent.school_id != student.school_id:
                raise InvalidArgument("różne szkoły", field_errors={"student_id": "Rodzic i uczeń muszą należeć do jednej szkoły."})
            if session.get(ParentLink, (parent_id, student_id)) is None:
                session.add(ParentLink(parent_id=parent_id, student_id=student_id))

    @staticmethod
    def _may_administer(caller: Principal, school_id: str | None) -> bool:
        return "superadmin" in caller.roles or ("school_admin" in caller.roles and caller.school_id == school_id)

    # -- reads ----------------------------------------------------------------------------------

    def me(self, caller: Principal) -> tuple[User, list[User]]:
        with self.database.transaction() as session:
            user = session.get(User, caller.user_id)
            if user is None:
                raise Unauthenticated("konto nie istnieje")
            children = list(
                session.scalars(
                    select(User).join(ParentLink, ParentLink.student_id == User.id).where(ParentLink.parent_id == user.id).order_by(User.first_name)
                )
            )
            return user, children

    def student_contacts(self, caller: Principal, student_id: str) -> tuple[User, list[User]]:
        """The student and their parents; for services and the school's staff only."""
        with self.database.transaction() as session:
            student = session.get(User, student_id) if student_id else None
            if student is None or "student" not in student.role_names:
                raise NotFound("nie ma takiego ucznia")
            staff_here = caller.school_id == student.school_id and caller.has_any_role(*people.STAFF_ROLES)
            if not (caller.is_service or staff_here):
                raise NotFound("nie ma takiego ucznia")
            parents = list(
                session.scalars(select(User).join(ParentLink, ParentLink.parent_id == User.id).where(ParentLink.student_id == student.id))
            )
            return student, parents


def _role_enum(role: str) -> int:
    return identity_pb2.Role.Value(f"ROLE_{role.upper()}")
