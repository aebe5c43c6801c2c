"""Who is calling the gateway: the Bearer access token, verified locally against identity's keys."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g, request

from dziennik.identity.v1 import identity_pb2

from gateway.problems import Problem
from platform_kit.auth import Principal, bearer_metadata
from platform_kit.errors import Unauthenticated


@dataclass(frozen=True)
class Caller:
    principal: Principal
    token: str

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """gRPC metadata that carries the caller to a backend service."""
        return bearer_metadata(self.token)


def caller() -> Caller:
    """The authenticated caller of this request, or a 401 problem."""
    cached = getattr(g, "caller", None)
    if cached is not None:
        return cached
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem("unauthenticated", "Brak tokenu dostępu (nagłówek Authorization: Bearer …).")
    try:
        principal = current_app.extensions["backends"].verifier.verify(token.strip())
    except Unauthenticated:
        raise Problem("unauthenticated", "Token dostępu jest nieprawidłowy lub wygasł.") from None
    g.caller = Caller(principal, token.strip())
    return g.caller


def accepts(*mimetypes: str, max_body: int | None = None):
    """Marks a view that takes a body other than JSON (a CSV file, an attachment), and may take
    a larger one than the default."""

    def mark(view):
        view.accepts = mimetypes
        if max_body is not None:
            view.max_body = max_body
        return view

    return mark


def check_body_type() -> None:
    """415 for a body the endpoint does not take (JSON unless the view says otherwise)."""
    if request.method not in ("POST", "PUT", "PATCH") or not request.content_length or request.is_json:
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if request.mimetype not in getattr(view, "accepts", ()):
        raise Problem("unsupported_media_type", "Treść żądania musi być w formacie application/json.")


def public(view):
    """Marks a view that needs no access token (login, refresh, activation, health, webhooks)."""
    view.is_public = True
    return view


# Open to staff who still have to enrol their second factor (API.md, Conventions).
MFA_ENROLMENT_PATHS = ("/api/v1/auth/", "/api/v1/me/mfa/")


def authenticate_request() -> None:
    """Before anything else: 401 for a protected endpoint without a valid token, then 403 for
    staff who have not enrolled their second factor (except sign-in, enrolment and /me)."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or getattr(view, "is_public", False):
        return
    principal = caller().principal
    if principal.mfa_enrollment_required and request.path != "/api/v1/me" and not request.path.startswith(MFA_ENROLMENT_PATHS):
        raise Problem("mfa_enrollment_required", "Włącz uwierzytelnianie dwuskładnikowe (TOTP), aby korzystać z dziennika.")


def client_ip() -> str:
    """The caller's address (the proxy in front of the gateway is trusted per GATEWAY_TRUSTED_PROXIES)."""
    return request.remote_addr or ""


def require_access(student_id: str, feature: str) -> bool:
    """Before a data service is called: 404 for a student the caller may not see, 402 when the
    school's access policy puts `feature` in extended access the caller has not got. identity's
    "yes" is kept for a few seconds per worker (the grades page at 8:00); its "no" never is.
    True when identity vouched for the caller as the student or a parent of theirs (staff pass on
    their role: which students they teach is the data service's check)."""
    who = caller()

    def ask_identity() -> bool:  # raises for a refusal, so only a "yes" is ever kept
        answer = current_app.extensions["backends"].identity.CheckAccess(
            identity_pb2.CheckAccessRequest(student_id=student_id, feature=feature), metadata=who.metadata
        )
        return answer.family

    return current_app.extensions["access_answers"].get_or_load((who.principal.user_id, student_id, feature), ask_identity)
