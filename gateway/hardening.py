"""Security headers on every gateway response, and CORS for the front ends named in
GATEWAY_CORS_ORIGINS (none by default: only pages of the gateway's own origin call the API).

Pages that set their own policy (the web app, /api/docs) keep it: headers here are only added
where a response has none, except Cache-Control on authenticated API answers, which is always
no-store (a shared computer's browser cache must not keep a child's grades)."""
from __future__ import annotations

from flask import Flask, Response, current_app, request

from gateway.problems import Problem
from gateway.settings import GatewaySettings

API_PREFIX = "/api/"

# JSON is never a document to render: no scripts, no framing, no forms, no base URL.
API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": API_CONTENT_SECURITY_POLICY,
}

# Only over HTTPS (RFC 6797 §7.2): request.is_secure follows X-Forwarded-Proto from trusted proxies.
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"

CORS_METHODS = "GET, POST, PUT, PATCH, DELETE"
CORS_REQUEST_HEADERS = "Authorization, Content-Type, Accept-Language, Idempotency-Key, If-Match, X-Request-Id"
CORS_EXPOSED_HEADERS = "X-Request-Id, Retry-After, Content-Disposition"
CORS_MAX_AGE_SECONDS = "600"


def init_app(app: Flask, settings: GatewaySettings) -> None:
    app.extensions["cors_origins"] = settings.cors_origin_set
    app.after_request(_secure)


def _allowed_origin() -> str | None:
    """The request's Origin when it is one of the configured front ends and the path is the API's."""
    origin = request.headers.get("Origin", "").rstrip("/").lower()
    if origin and request.path.startswith(API_PREFIX) and origin in current_app.extensions.get("cors_origins", ()):
        return origin
    return None


def answer_preflight() -> Response | None:
    """A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method) to the API, answered
    before authentication: a browser never sends a token with it. None for any other request."""
    if request.method != "OPTIONS" or not request.path.startswith(API_PREFIX):
        return None
    if "Origin" not in request.headers or "Access-Control-Request-Method" not in request.headers:
        return None
    if _allowed_origin() is None:
        raise Problem("forbidden", "Ten adres (Origin) nie może korzystać z API z przeglądarki.")
    return Response(
        status=204,
        headers={
            "Access-Control-Allow-Methods": CORS_METHODS,
            "Access-Control-Allow-Headers": CORS_REQUEST_HEADERS,
            "Access-Control-Max-Age": CORS_MAX_AGE_SECONDS,
        },
    )


def _secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    if request.path.startswith(API_PREFIX):
        # Tokens come back from sign-in without an Authorization header; public answers that chose
        # to be cacheable (JWKS, calendar feeds) say so themselves.
        if "Authorization" in request.headers or "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        if current_app.extensions.get("cors_origins"):
            response.vary.add("Origin")
        origin = _allowed_origin()
        if origin is not None:
            # Bearer tokens, no cookies: never Access-Control-Allow-Credentials, never a wildcard.
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSED_HEADERS
    return response
