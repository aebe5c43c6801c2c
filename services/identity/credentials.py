"""Passwords (argon2id with OWASP parameters), one-time codes and access-token signing."""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from functools import cache

import jwt
import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from platform_kit.auth import ACCESS_TOKEN_TYPE, AUDIENCE, ISSUER
from platform_kit.heap import TrimWhenQuiet

MFA_AUDIENCE = "dziennik-mfa"

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
PASSWORDS = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


class PasswordWork:
    """Where argon2id runs: at most `at_once` hashes or checks at a time, and their memory handed
    back once sign-ins pause.

    Each takes 19 MiB and ~18 ms of one core. gRPC answers sign-ins in up to IDENTITY_GRPC_WORKERS
    threads; more checks at once than cores only made each slower — its 19 MiB faulted in anew and
    fighting for the caches: 16 at once on 2 cores 25 ms of CPU per check and 79 checks a second,
    2 at once 18 ms and 106 a second, resident memory at the peak 366 → 62–81 MB. A sign-in past
    the limit waits for a slot, as it would have waited for a core."""

    def __init__(self, at_once: int) -> None:
        self.at_once = at_once
        self._slots = threading.BoundedSemaphore(at_once)
        # Buffers stay for the next check during a burst; one malloc arena
        # (services/identity/__main__.py) lets them go back to the system after it.
        self.memory = TrimWhenQuiet(quiet_seconds=5.0)

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._slots:
            try:
                yield
            finally:
                self.memory.touched()


ARGON2 = PasswordWork(available_cores())


def limit_password_work(at_once: int) -> None:
    """At most `at_once` argon2id computations at a time from now on (IDENTITY_PASSWORD_CHECKS_AT_ONCE)."""
    global ARGON2
    ARGON2 = PasswordWork(at_once)


@cache
def _dummy_hash() -> str:
    """Verified when a login does not exist, so both answers take the same time. Made by the first
    sign-in rather than at import: glibc hands the first freed argon2 buffer (19 MiB) back to the
    system but keeps later ones in the heap, so a hash at import left 19 MiB resident in a server
    that had only created its superadmin."""
    return hash_password(secrets.token_hex(16))


def hash_password(password: str) -> str:
    with ARGON2.slot():
        return PASSWORDS.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    dummy = _dummy_hash()  # for a known login too: the first sign-in takes as long either way
    try:
        with ARGON2.slot():
            return PASSWORDS.verify(password_hash or dummy, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def digest(secret: str) -> str:
    """Stored form of a high-entropy secret (refresh token, activation code): SHA-256 is enough."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_activation_code() -> str:
    """12 characters a person can type from a printout: no 0/O, 1/I/L."""
    alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
    code = "".join(secrets.choice(alphabet) for _ in range(12))
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"


def normalise_activation_code(code: str) -> str:
    raw = "".join(ch for ch in code.upper() if ch.isalnum())
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


TOTP_ISSUER = "Dziennik"


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, login: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=login, issuer_name=TOTP_ISSUER)


def accepted_totp_step(secret: str, code: str, last_step: int | None, now: datetime | None = None) -> int | None:
    """The time step `code` belongs to (this one or a neighbour, for clock drift), or None.
    A step at or before `last_step` was used already: a code is accepted once."""
    code = "".join(ch for ch in code if ch.isdigit())
    totp = pyotp.TOTP(secret)
    moment = now or datetime.now(timezone.utc)
    current = totp.timecode(moment)
    for step in (current, current - 1, current + 1):
        if (last_step is None or step > last_step) and secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


class SigningKeys:
    """Ed25519 private keys by key id; the newest signs, all of them verify."""

    def __init__(self, pems: dict[str, str]) -> None:
        if not pems:
            raise ValueError("no signing key")
        self._keys = {kid: serialization.load_pem_private_key(pem.encode(), password=None) for kid, pem in pems.items()}
        self.current_kid = list(pems)[-1]

    @staticmethod
    def generate() -> tuple[str, str]:
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        return uuid.uuid4().hex, pem.decode()

    def jwks_json(self) -> str:
        keys = []
        for kid, key in self._keys.items():
            jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "EdDSA"})
        return json.dumps({"keys": keys})

    def access_token(
        self,
        *,
        user_id: str,
        school_id: str | None,
        roles: list[str],
        session_id: str,
        ttl: timedelta,
        amr: tuple[str, ...] = ("pwd",),
        mfa_enrollment_required: bool = False,
    ) -> str:
        now = datetime.now(timezone.utc)
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": user_id,
            "iat": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
            "typ": ACCESS_TOKEN_TYPE,
            "school_id": school_id,
            "roles": roles,
            "sid": session_id,
            "amr": list(amr),
            "mfa_enrollment_required": mfa_enrollment_required,
        }
        return jwt.encode(claims, self._keys[self.current_kid], algorithm="EdDSA", headers={"kid": self.current_kid, "typ": "at+jwt"})

    def mfa_token(self, *, user_id: str, ttl: timedelta) -> str:
        """Proof that the password was right, good only for finishing the sign-in with a code."""
        now = datetime.now(timezone.utc)
        claims = {"iss": ISSUER, "aud": MFA_AUDIENCE, "sub": user_id, "iat": now, "exp": now + ttl, "typ": "mfa", "jti": uuid.uuid4().hex}
        return jwt.encode(claims, self._keys[self.current_kid], algorithm="EdDSA", headers={"kid": self.current_kid})

    def read_mfa_token(self, token: str) -> str | None:
        """The user id in a valid, unexpired MFA token, else None."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self._keys.get(kid)
            if key is None:
                return None
            claims = jwt.decode(token, key.public_key(), algorithms=["EdDSA"], audience=MFA_AUDIENCE, issuer=ISSUER)
        except jwt.PyJWTError:
            return None
        return claims["sub"] if claims.get("typ") == "mfa" else None
