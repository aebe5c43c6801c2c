"""Who is calling: access tokens signed by identity (verified against its JWKS) and the shared
service token that event consumers and other services use when no person is behind a call."""
from __future__ import annotations

import contextvars
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from platform_kit.errors import Unauthenticated

ISSUER = "dziennik-identity"
AUDIENCE = "dziennik"
ACCESS_TOKEN_TYPE = "access"
ALGORITHMS = ["EdDSA"]
AUTHORIZATION = "authorization"  # gRPC metadata key


@dataclass(frozen=True)
class Principal:
    user_id: str
    school_id: str | None
    roles: frozenset[str]
    is_service: bool = False
    session_id: str | None = None  # the sign-in session (refresh-token family) the token belongs to
    # Staff who have not enrolled their second factor: only sign-in and MFA enrolment are open.
    mfa_enrollment_required: bool = False

    def has_any_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


SERVICE = Principal(user_id="service", school_id=None, roles=frozenset(), is_service=True)

_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("principal", default=None)


def current_principal() -> Principal:
    """The verified caller of the RPC being handled; Unauthenticated when there is none."""
    principal = _principal.get()
    if principal is None:
        raise Unauthenticated("this call needs an access token")
    return principal


def set_principal(principal: Principal | None) -> contextvars.Token:
    return _principal.set(principal)


def reset_principal(token: contextvars.Token) -> None:
    _principal.reset(token)


class TokenVerifier:
    """Verifies access tokens; `jwks_source` returns the JWKS JSON (fetched again, at most every
    `refresh_interval` seconds, when a token names a key it does not know)."""

    def __init__(self, jwks_source: Callable[[], str], *, refresh_interval: float = 30.0) -> None:
        from platform_kit.cache import TtlCache  # cachetools and prometheus: only where tokens are checked

        self._jwks_source = jwks_source
        self._refresh_interval = refresh_interval
        self._keys: dict[str, object] = {}
        self._fetched_at = 0.0
        self._lock = threading.Lock()
        # A token verified once is the same token the next time: its principal and expiry are kept
        # for `refresh_interval` (no longer than a key stays known without asking identity), so a
        # parent's page views and the services behind each of them check the signature once.
        self._verified: TtlCache[tuple[Principal, float]] = TtlCache("verified_tokens", refresh_interval, maxsize=20_000)

    def _key(self, kid: str):
        key = self._keys.get(kid)
        if key is None:
            with self._lock:
                stale = time.monotonic() - self._fetched_at >= self._refresh_interval
                if not self._keys or (kid not in self._keys and stale):
                    import jwt  # imported here: see verify()

                    jwks = jwt.PyJWKSet.from_dict(json.loads(self._jwks_source()))
                    self._keys = {k.key_id: k for k in jwks.keys}
                    self._fetched_at = time.monotonic()
                key = self._keys.get(kid)
        if key is None:
            raise Unauthenticated("access token signed by an unknown key")
        return key

    def verify(self, token: str) -> Principal:
        principal, expires = self._verified.get_or_load(token, lambda: self._verify(token))
        if expires <= time.time():
            raise Unauthenticated("invalid access token: Signature has expired")
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        # imported here: PyJWT and cryptography (~10 MB) only in a process that checks tokens, once it does
        import jwt

        try:
            header = jwt.get_unverified_header(token)
            key = self._key(str(header.get("kid", "")))
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "typ"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid access token: {exc}") from None
        if claims.get("typ") != ACCESS_TOKEN_TYPE:
            raise Unauthenticated("not an access token")
        principal = Principal(
            user_id=claims["sub"],
            school_id=claims.get("school_id"),
            roles=frozenset(claims.get("roles", [])),
            session_id=claims.get("sid"),
            mfa_enrollment_required=bool(claims.get("mfa_enrollment_required", False)),
        )
        return principal, float(claims["exp"])


def bearer_metadata(token: str) -> tuple[tuple[str, str], ...]:
    return ((AUTHORIZATION, f"Bearer {token}"),)


def service_metadata(service_token: str) -> tuple[tuple[str, str], ...]:
    return ((AUTHORIZATION, f"Service {service_token}"),)


def principal_from_authorization(value: str | None, verifier: TokenVerifier | None, service_token: str) -> Principal | None:
    """The caller named by an `authorization` value; None when there is no value."""
    if not value:
        return None
    scheme, _, credential = value.partition(" ")
    if scheme == "Bearer" and verifier is not None:
        return verifier.verify(credential)
    if scheme == "Service" and hmac.compare_digest(credential.encode(), service_token.encode()):
        return SERVICE
    raise Unauthenticated("unrecognised credentials")
