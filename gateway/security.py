"""Who is calling the gateway: the Bearer access token, verified locally against identity's keys."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g, request

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


def public(view):
    """Marks a view that needs no access token (login, refresh, activation, health, webhooks)."""
    view.is_public = True
    return view


def authenticate_request() -> None:
    """Before anything else: 401 for a protected endpoint without a valid token."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is not None and not getattr(view, "is_public", False):
        caller()
