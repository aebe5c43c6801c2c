"""Signing in and staying signed in: passwords, the second factor, tokens and sessions."""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from platform_kit.auth import Principal
from platform_kit.db import Database
from platform_kit.errors import Conflict, InvalidArgument, NotFound, Unauthenticated
from services.identity import credentials, people
from services.identity.common import aware, now
from services.identity.orm import RefreshToken, SigningKey, User, UserRole
from services.identity.throttle import LoginThrottler, RequestLimiter

log = logging.getLogger(__name__)

MFA_TOKEN_TTL = timedelta(minutes=5)
# Sign-ins from one address are counted in windows of this length, whatever their outcome (429
# past IDENTITY_SIGN_INS_PER_ADDRESS). A school behind one NAT signs in together at 8:00, so the
# limit is generous; failed sign-ins have their own, finer throttle per account and address.
SIGN_INS_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True)
class TokenHolder:
    """What an access token says about its user (read in one query when refreshing)."""

    id: str
    school_id: str | None
    role_names: list[str]


_USERS, _ROLES, _TOKENS = User.__table__, UserRole.__table__, RefreshToken.__table__
# The statements of sign-in and refresh, built once (the 8:00 surge runs them; SQLAlchemy's cache
# key of a statement built per call costs more than the statement itself).
_HOLDER = select(_USERS.c.school_id, _ROLES.c.role).outerjoin(_ROLES, _ROLES.c.user_id == _USERS.c.id).where(_USERS.c.id == bindparam("user_id"))
_SIGN_IN = select(_USERS.c.id, _USERS.c.password_hash, _USERS.c.totp_confirmed_at, _USERS.c.school_id, _ROLES.c.role).outerjoin(
    _ROLES, _ROLES.c.user_id == _USERS.c.id
).where(_USERS.c.login == bindparam("login"))
_CLAIM = (
    update(_TOKENS)
    .where(_TOKENS.c.token_hash == bindparam("digest"), _TOKENS.c.used_at.is_(None), _TOKENS.c.revoked_at.is_(None), _TOKENS.c.expires_at > bindparam("moment"))
    .values(used_at=bindparam("moment"))
    .returning(_TOKENS.c.user_id, _TOKENS.c.family_id, _TOKENS.c.amr)
)
_SEEN = select(_TOKENS.c.family_id, _TOKENS.c.used_at, _TOKENS.c.revoked_at, _TOKENS.c.expires_at).where(_TOKENS.c.token_hash == bindparam("digest"))
_NEW_TOKEN = insert(_TOKENS)


def _holder(user_id: str, rows) -> TokenHolder:
    """The token holder from rows of (school_id, role), one per role (one with no role)."""
    return TokenHolder(user_id, rows[0].school_id, sorted(r.role for r in rows if r.role))


def _token_holder(session: Session, user_id: str) -> TokenHolder:
    return _holder(user_id, session.execute(_HOLDER, {"user_id": user_id}).all())


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class SignIn:
    """Either a token pair, or (for an account with a second factor) an MFA token to finish with."""

    tokens: TokenPair | None = None
    mfa_token: str | None = None


def _invalid_credentials() -> Unauthenticated:
    return Unauthenticated("nieprawidłowy login lub hasło", code="invalid_credentials")


class Sessions:
    def __init__(
        self, database: Database, *, access_ttl: timedelta, refresh_ttl: timedelta, sign_ins_per_address: int
    ) -> None:
        self.database = database
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self.throttle = LoginThrottler(database)
        self.requests = RequestLimiter(database)
        self.sign_ins_per_address = sign_ins_per_address
        self._keys: credentials.SigningKeys | None = None

    # -- keys ---------------------------------------------------------------------------------

    def ensure_signing_key(self) -> None:
        """Create the first signing key; replicas starting together agree on one."""
        with self.database.transaction() as session:
            if self.database.is_postgresql:
                session.execute(text("SELECT pg_advisory_xact_lock(hashtext('identity.signing_keys'))"))
            if session.scalar(select(func.count()).select_from(SigningKey)) == 0:
                kid, pem = credentials.SigningKeys.generate()
                session.add(SigningKey(kid=kid, private_pem=pem, created_at=now()))
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

    # -- accounts -----------------------------------------------------------------------------

    def ensure_superadmin(self, login: str, password: str) -> None:
        """Create the platform operator's account if it does not exist yet (start-up, idempotent).
        The password's strength is checked when the account is made (the check's dictionaries
        stay out of the server's memory on every later start)."""
        with self.database.transaction() as session:
            if session.scalar(select(User.id).where(User.login == login)) is not None:
                return
            people.check_password(password, personal=(login,))
            session.add(
                User(
                    id=str(uuid.uuid4()),
                    school_id=None,
                    login=login,
                    password_hash=credentials.hash_password(password),
                    first_name="Administrator",
                    last_name="Platformy",
                    created_at=now(),
                    roles=[UserRole(role="superadmin")],
                )
            )
        log.info("created superadmin %s", login)

    def activate(self, code: str, password: str) -> str:
        with self.database.transaction() as session:
            user = session.scalar(
                select(User).where(User.activation_code_hash == credentials.digest(credentials.normalise_activation_code(code)))
            )
            if user is None or user.activation_expires_at is None or aware(user.activation_expires_at) <= now():
                raise NotFound("kod aktywacyjny jest nieprawidłowy lub wygasł")
            people.check_password(password, personal=(user.login, user.first_name, user.last_name, user.email))
            user.password_hash = credentials.hash_password(password)
            user.activation_code_hash = None  # single use
            user.activation_expires_at = None
            return user.login

    def change_password(self, caller: Principal, current_password: str, new_password: str) -> None:
        """Set a new password; every other session of the account ends."""
        with self.database.transaction() as session:
            user = session.get(User, caller.user_id)
            if user is None or not credentials.verify_password(user.password_hash, current_password):
                raise InvalidArgument(
                    "obecne hasło się nie zgadza", field_errors={"current_password": "Podaj obecne hasło."}
                )
            people.check_password(new_password, personal=(user.login, user.first_name, user.last_name, user.email))
            user.password_hash = credentials.hash_password(new_password)
            others = select(RefreshToken).where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
            if caller.session_id:
                others = others.where(RefreshToken.family_id != caller.session_id)
            for token in session.scalars(others):
                token.revoked_at = now()

    # -- sign-in ------------------------------------------------------------------------------

    def login(self, login: str, password: str, client_ip: str) -> SignIn:
        login = login.strip().lower()
        if client_ip:  # counted here rather than by the gateway asking first: one RPC less per sign-in
            self.requests.count(f"login:address:{client_ip}", self.sign_ins_per_address, SIGN_INS_WINDOW)
        # The throttle and the account in one connection without BEGIN/COMMIT; none is held while
        # argon2id takes its ~40 ms of CPU by design (8:00).
        with self.database.reading() as session:
            failures_on_record = self.throttle.standing(session, login, client_ip)
            rows = session.execute(_SIGN_IN, {"login": login}).all()
        user = rows[0] if rows else None
        valid = credentials.verify_password(user.password_hash if user else None, password)
        if not valid:
            self.throttle.failed(login, client_ip)
            raise _invalid_credentials()
        if credentials.PASSWORDS.check_needs_rehash(user.password_hash):
            with self.database.transaction() as session:  # unless it changed meanwhile
                session.execute(
                    update(_USERS).where(_USERS.c.id == user.id, _USERS.c.password_hash == user.password_hash).values(password_hash=credentials.hash_password(password))
                )
        if user.totp_confirmed_at is not None:
            return SignIn(mfa_token=self.keys.mfa_token(user_id=user.id, ttl=MFA_TOKEN_TTL))
        with self.database.transaction() as session:
            if failures_on_record:
                self.throttle.cleared(session, login, client_ip)
            return SignIn(tokens=self._issue(session, _holder(user.id, rows), family_id=str(uuid.uuid4()), amr="pwd"))

    def verify_mfa(self, mfa_token: str, code: str, client_ip: str) -> TokenPair:
        user_id = self.keys.read_mfa_token(mfa_token)
        if user_id is None:
            raise Unauthenticated("logowanie wygasło, zaloguj się ponownie", code="unauthenticated")
        with self.database.transaction() as session:
            login = session.get(User, user_id).login
        self.throttle.check(login, client_ip)  # six digits must not be guessable by brute force
        with self.database.transaction() as session:
            user = session.get(User, user_id, with_for_update=True)
            step = credentials.accepted_totp_step(user.totp_secret or "", code, user.totp_last_step)
            if step is not None:
                user.totp_last_step = step
                tokens = self._issue(session, user, family_id=str(uuid.uuid4()), amr="pwd otp")
        if step is not None:
            self.throttle.succeeded(login, client_ip)
            return tokens
        self.throttle.failed(login, client_ip)
        raise Unauthenticated("nieprawidłowy kod", code="invalid_credentials")

    def refresh(self, refresh_token: str) -> TokenPair:
        """A new pair for a refresh token used once. The 8:00 surge rides on this, so it is three
        plain statements; claiming the token is one of them, so of two refreshes racing with the
        same token exactly one wins and the other counts as a replay."""
        digest, moment = credentials.digest(refresh_token), now()
        with self.database.transaction() as session:
            claimed = session.execute(_CLAIM, {"digest": digest, "moment": moment}).first()
            if claimed is not None:
                return self._issue(session, _token_holder(session, claimed.user_id), family_id=claimed.family_id, amr=claimed.amr)
            seen = session.execute(_SEEN, {"digest": digest}).first()
        if seen is None or seen.used_at is None or seen.revoked_at is not None or aware(seen.expires_at) <= moment:
            raise Unauthenticated("sesja wygasła", code="unauthenticated")
        # A used token came back: someone replayed it, so the whole session ends.
        log.warning("refresh token reused; revoking session %s", seen.family_id)
        self._revoke_family(seen.family_id)
        raise Unauthenticated("sesja wygasła", code="unauthenticated")

    def logout(self, caller: Principal) -> None:
        """End the caller's sign-in session: its refresh tokens stop working."""
        if caller.session_id:
            self._revoke_family(caller.session_id)

    def _revoke_family(self, family_id: str) -> None:
        with self.database.transaction() as session:
            for token in session.scalars(select(RefreshToken).where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))):
                token.revoked_at = now()

    def _issue(self, session: Session, user: User | TokenHolder, *, family_id: str, amr: str) -> TokenPair:
        refresh = credentials.new_secret()
        session.execute(
            _NEW_TOKEN,
            {"id": str(uuid.uuid4()), "token_hash": credentials.digest(refresh), "family_id": family_id, "user_id": user.id, "expires_at": now() + self.refresh_ttl, "amr": amr},
        )
        methods = amr.split()
        roles = user.role_names
        access = self.keys.access_token(
            user_id=user.id,
            school_id=user.school_id,
            roles=roles,
            session_id=family_id,
            amr=methods,
            ttl=self.access_ttl,
            mfa_enrollment_required=bool(set(roles) & set(people.MFA_ROLES)) and "otp" not in methods,
        )
        return TokenPair(access, refresh, int(self.access_ttl.total_seconds()))

    # -- second factor --------------------------------------------------------------------------

    def enroll_totp(self, caller: Principal) -> tuple[str, str]:
        """A new TOTP secret to put in an authenticator app; it counts once confirmed."""
        with self.database.transaction() as session:
            user = session.get(User, caller.user_id)
            if user.totp_confirmed_at is not None:
                raise Conflict("drugi składnik jest już włączony")
            user.totp_secret = credentials.new_totp_secret()
            return user.totp_secret, credentials.totp_uri(user.totp_secret, user.login)

    def confirm_totp(self, caller: Principal, code: str) -> None:
        """Turn the second factor on with a first code. The current session counts as verified,
        so its next refresh gives a token without the enrolment requirement."""
        with self.database.transaction() as session:
            user = session.get(User, caller.user_id, with_for_update=True)
            if user.totp_secret is None or user.totp_confirmed_at is not None:
                raise Conflict("najpierw rozpocznij włączanie drugiego składnika")
            step = credentials.accepted_totp_step(user.totp_secret, code, user.totp_last_step)
            if step is None:
                raise InvalidArgument("nieprawidłowy kod", field_errors={"code": "Wpisz aktualny kod z aplikacji."})
            user.totp_confirmed_at = now()
            user.totp_last_step = step
            if caller.session_id:
                for token in session.scalars(select(RefreshToken).where(RefreshToken.family_id == caller.session_id)):
                    token.amr = "pwd otp"
