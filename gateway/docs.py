"""The API's documentation: what the OpenAPI document says about errors and tokens, and the
human-readable page at /api/docs.

The page is Swagger UI (swagger-ui-dist 5.35.0 from npm, vendored in gateway/docs_static with its
licence), served by the gateway itself: no CDN, and a Content-Security-Policy that lets it load
nothing but our own scripts, styles and the document. Swagger UI rather than Redoc because it
runs under that policy as it is (Redoc's styled-components need 'unsafe-inline' styles and blob:
workers), and its "Try it out" with the Bearer token is what front-end developers use.
To upgrade: `npm pack swagger-ui-dist@<version>` and copy swagger-ui-bundle.js (with its
.LICENSE.txt), swagger-ui.css, LICENSE and NOTICE over the files in gateway/docs_static.
"""
from __future__ import annotations

import http
from pathlib import Path

from apispec import BasePlugin
from flask import Blueprint, Flask, Response, abort, send_from_directory
from flask_smorest import Api
from flask_smorest.utils import prepare_response

from gateway.api.schemas import ProblemSchema
from gateway.security import public

PROBLEM_JSON = "application/problem+json"
STATIC_DIR = Path(__file__).resolve().parent / "docs_static"

# Polish first, as the titles are; the codes are the stable part (API.md, Conventions).
_DESCRIPTIONS = {
    400: "Niepoprawne dane (`validation_error`, `weak_password`); `errors` wskazuje pola.",
    401: "Brak ważnego tokenu dostępu (`unauthenticated`) albo zły login lub hasło (`invalid_credentials`).",
    "default": "Błąd jako RFC 9457 problem details (`application/problem+json`); `code` to stały kod błędu, np. "
    "`forbidden`, `mfa_enrollment_required`, `not_found`, `extended_access_required`, `conflict`, `rate_limited` "
    "(z nagłówkiem Retry-After), `payload_too_large`, `unsupported_media_type`, `unavailable`.",
}


class DocumentedApi(Api):
    """flask-smorest's Api whose document tells the truth about errors: every error response is
    a problem-details body (`application/problem+json`), validation answers 400 (the gateway turns
    webargs' 422 into `validation_error`), and each operation says whether it needs a token."""

    ERROR_SCHEMA = ProblemSchema

    def _init_spec(self, *, extra_plugins=None, **options):
        options.setdefault("security", [{"bearer": []}])  # public operations say `security: []`
        super()._init_spec(extra_plugins=[*(extra_plugins or ()), _ErrorResponses(self._app)], **options)

    def _register_responses(self):
        for status in http.HTTPStatus:
            response = {"description": _DESCRIPTIONS.get(status.value, status.phrase)}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": _DESCRIPTIONS["default"], "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)


class _ErrorResponses(BasePlugin):
    """Per operation: 400 instead of webargs' 422, 401 where a token is needed, and `security: []`
    on the public ones (login, refresh, webhooks, feeds)."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def operation_helper(self, path=None, operations=None, **kwargs):
        rule = kwargs.get("rule")
        view = self.app.view_functions.get(rule.endpoint) if rule is not None else None
        is_public = bool(getattr(view, "is_public", False))
        for operation in (operations or {}).values():
            responses = operation.setdefault("responses", {})
            if responses.pop(422, None) or responses.pop("422", None):
                responses.setdefault(400, http.HTTPStatus.BAD_REQUEST.name)
            if is_public:
                operation["security"] = []
            else:
                responses.setdefault(401, http.HTTPStatus.UNAUTHORIZED.name)


# -- the page ----------------------------------------------------------------------------------------

# Nothing from anywhere else, no inline script or style; data: images are Swagger UI's icons.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

# Relative addresses, so the page also works when a proxy serves the gateway under a prefix.
_PAGE = """<!DOCTYPE html>
<html lang="pl">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Dziennik API v1</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<noscript>Dokumentacja API wymaga JavaScriptu; dokument OpenAPI: <a href="v1/openapi.json">v1/openapi.json</a>.</noscript>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script>
</body>
</html>
"""

# Only our own document: no ?url= or ?configUrl= from the address bar, no online validator badge.
_INIT_JS = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: new URL("v1/openapi.json", document.baseURI).href,
    dom_id: "#swagger-ui",
    deepLinking: true,
    queryConfigEnabled: false,
    validatorUrl: null,
    tryItOutEnabled: false,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
"""

_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
}

blp = Blueprint("docs", __name__)


@blp.after_request
def _page_policy(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


@blp.get("/api/docs")
@public
def page():
    """The API reference for people (front-end and mobile developers)."""
    return Response(_PAGE, mimetype="text/html", headers={"Cache-Control": "no-cache"})


@blp.get("/api/docs/init.js")
@public
def init_script():
    return Response(_INIT_JS, mimetype="text/javascript", headers={"Cache-Control": "no-cache"})


@blp.get("/api/docs/<name>")
@public
def asset(name: str):
    kind = _ASSETS.get(name)
    if kind is None:
        abort(404)
    response = send_from_directory(STATIC_DIR, name, mimetype=kind, max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(blp)
