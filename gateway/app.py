"""The gateway's application factory."""
from __future__ import annotations

import logging
import re
import time
import uuid

import grpc
from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway import audit as audit_trail
from gateway import limits as rate_limits
from gateway import docs, hardening
from gateway.api import admin, attendance, audit_log, auth, billing, communication, exports, grades, me, notifications
from gateway.backends import Backends
from gateway.page_copies import page_copies
from gateway.problems import Problem, code_for_status, from_rpc_error, response_for
from gateway.security import authenticate_request, check_body_type, public
from gateway.settings import GatewaySettings
from gateway.web import blp as web_app
from platform_kit.cache import TtlCache
from platform_kit.config import load_settings
from platform_kit.context import reset_correlation_id, set_correlation_id

log = logging.getLogger(__name__)

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests answered by the gateway.", ["method", "endpoint", "status"])
HTTP_SECONDS = Histogram("http_request_duration_seconds", "Time to answer an HTTP request.", ["method", "endpoint"])

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
MAX_BODY_BYTES = 1 * 1024 * 1024  # views that take files say so (security.accepts)


def create_app(settings: GatewaySettings | None = None) -> Flask:
    settings = settings or load_settings(GatewaySettings)
    app = Flask(__name__)
    if settings.trusted_proxies:  # the client's address as the proxies in front of us saw it
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies)
    app.config.update(
        API_TITLE="Dziennik API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        JSON_SORT_KEYS=False,
    )
    app.extensions["backends"] = Backends(settings)
    app.extensions["settings"] = settings
    # keyed (user, student, feature): a change to either person drops the copy
    app.extensions["access_answers"] = TtlCache(
        "gateway_access", settings.access_cache_seconds, followed_seconds=settings.access_cache_followed_seconds, mentions=lambda key, _family: key[:2]
    )
    app.extensions["page_copies"] = page_copies(settings.page_copies_mb, settings.page_copy_seconds)

    api = docs.DocumentedApi(app, spec_kwargs={"info": {"description": "Elektroniczny dziennik szkolny: publiczne API v1."}})
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    for blueprint in (auth.blp, me.blp, admin.blp, grades.blp, attendance.blp, communication.blp, billing.blp, notifications.blp, notifications.reports, audit_log.blp):
        api.register_blueprint(blueprint)
    api.register_blueprint(exports.blp)  # the class register as XML, a student's data for their parent (issue #10, point 7)
    app.view_functions["api-docs.openapi_json"] = public(_plain(app.view_functions["api-docs.openapi_json"]))
    app.register_blueprint(web_app)  # the web front end at / (outside the OpenAPI document)
    docs.init_app(app)  # the API reference at /api/docs
    hardening.init_app(app, settings)  # security headers and CORS on every response

    _register_health(app)
    _register_request_hooks(app)
    audit_trail.init_app(app, audit_trail.AuditRecorder(app.extensions["backends"].record_audit))
    rate_limits.init_app(app, settings)
    _register_error_handlers(app)
    return app


def _plain(view):
    """A function wrapper, so a bound method (flask-smorest's views) can carry attributes."""
    def wrapped(*args, **kwargs):
        return view(*args, **kwargs)

    return wrapped


def _register_request_hooks(app: Flask) -> None:
    @app.before_request
    def _start():
        supplied = request.headers.get("X-Request-Id", "")
        g.request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex
        g.correlation_token = set_correlation_id(g.request_id)
        g.started = time.perf_counter()
        view = app.view_functions.get(request.endpoint or "")
        request.max_content_length = getattr(view, "max_body", MAX_BODY_BYTES)
        preflight = hardening.answer_preflight()  # a browser's CORS preflight carries no token
        if preflight is not None:
            return preflight
        authenticate_request()  # 401 comes before anything about the body (API.md, order of checks)
        check_body_type()

    @app.after_request
    def _finish(response: Response):
        response.headers["X-Request-Id"] = g.get("request_id", "")
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        HTTP_REQUESTS.labels(request.method, endpoint, response.status_code).inc()
        if "started" in g:
            HTTP_SECONDS.labels(request.method, endpoint).observe(time.perf_counter() - g.started)
        return response

    @app.teardown_request
    def _teardown(_exc):
        token = g.pop("correlation_token", None)
        if token is not None:
            reset_correlation_id(token)


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(problem: Problem):
        return response_for(problem)

    @app.errorhandler(grpc.RpcError)
    def _rpc_error(error: grpc.RpcError):
        problem = from_rpc_error(error)
        if problem.code in ("internal_error", "unavailable"):
            log.warning("backend call failed: %s %s", error.code(), error.details())
        return response_for(problem)

    # Registered after flask-smorest's own handler, so this one answers every HTTP error.
    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if error.code == 422:  # webargs: the body did not match the schema
            messages = (getattr(error, "data", None) or {}).get("messages", {})
            fields = {}
            for location in messages.values():
                for field, problems in location.items():
                    fields[field] = "; ".join(problems) if isinstance(problems, list) else str(problems)
            return response_for(Problem("validation_error", "Niepoprawne dane w żądaniu.", errors=fields))
        if error.code == 400:
            return response_for(Problem("validation_error", "Nie można odczytać treści żądania (JSON)."))
        allowed = getattr(error, "valid_methods", None)  # 405 names the methods that would work (RFC 9110)
        return response_for(Problem(code_for_status(error.code or 500), headers={"Allow": ", ".join(allowed)} if allowed else None))

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unhandled error")
        return response_for(Problem("internal_error"))


def _register_health(app: Flask) -> None:
    @app.get("/healthz")
    @public
    def healthz():
        return {"status": "ok"}

    @app.get("/readyz")
    @public
    def readyz():
        settings: GatewaySettings = app.extensions["settings"]
        backends = app.extensions["backends"].readiness(settings.readiness_timeout_seconds)
        ready = all(backends.values())
        return {"status": "ready" if ready else "unavailable", "backends": backends}, 200 if ready else 503

    @app.get("/metrics")
    @public
    def metrics():
        import os

        registry = REGISTRY
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
