"""The web front end: a buildless single-page app (ES modules, CSS, inline SVG) that parents,
students, teachers and secretaries use in a browser. It talks only to the public /api/v1, so it
is also the reference for mobile apps.

Everything here is public (the app signs in through the API) and is served by the gateway
itself: no CDN, and a Content-Security-Policy that lets the page load nothing from anywhere else.
"""
from __future__ import annotations

import re
from pathlib import Path

from flask import Blueprint, Response, abort, redirect, send_from_directory

from gateway.security import public

STATIC_DIR = Path(__file__).resolve().parent / "static"
ASSET_PREFIX = "/app"  # not /static: Flask's own static route lives there, outside `public`

# Only our own origin, for everything; no inline scripts or styles, no eval, no plugins, no framing.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}

# Explicit types: with nosniff a module script must come as JavaScript, whatever the OS's
# mime.types says; anything else is not an asset of ours.
ASSET_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
}

_ORDER_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")

blp = Blueprint("web", __name__)


@blp.after_request
def _security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _index() -> Response:
    response = send_from_directory(STATIC_DIR, "index.html", mimetype=ASSET_TYPES[".html"], max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@blp.get("/")
@public
def index():
    """The app's single page; routes after `#` are the app's own."""
    return _index()


@blp.get(f"{ASSET_PREFIX}/<path:filename>")
@public
def asset(filename: str):
    """Scripts, styles, dictionaries and icons of the app (revalidated, so a deploy shows at once)."""
    kind = ASSET_TYPES.get(Path(filename).suffix)
    if kind is None or filename == "index.html":
        abort(404)
    response = send_from_directory(STATIC_DIR, filename, mimetype=kind, max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@blp.get("/platnosci/<order_id>")
@public
def payment_return(order_id: str):
    """Where PayU sends the parent back (the order's continueUrl): the app's page of that order."""
    if not _ORDER_ID.match(order_id):
        abort(404)
    return redirect(f"/#/payments/{order_id}", 302)
