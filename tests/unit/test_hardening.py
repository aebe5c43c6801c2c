"""Security headers, CORS, the /api/docs page and what the OpenAPI document says about errors,
through Flask's test client (no backend: every <SERVICE>_GRPC_PORT points at port 1)."""
from __future__ import annotations

import re

import pytest
from flask import Response

from gateway import create_app, docs, hardening
from gateway.security import public
from gateway.settings import GatewaySettings
from gateway.web import CONTENT_SECURITY_POLICY as WEB_POLICY
from platform_kit.config import DEFAULT_GRPC_PORTS, ConfigError, load_settings

pytestmark = pytest.mark.timeout(30)

FRONT_END = "https://app.dziennik.example.pl"


@pytest.fixture
def backends_down(monkeypatch):
    for service in DEFAULT_GRPC_PORTS:
        monkeypatch.setenv(f"{service.upper()}_GRPC_PORT", "1")
    monkeypatch.setenv("DZIENNIK_GRPC_DEADLINE", "0.5")


def _app(monkeypatch, **env: str):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = create_app()
    # A public API answer that chose to be cacheable, as the JWKS and calendar feeds do.
    app.add_url_rule("/api/v1/test-cacheable", "test_cacheable", public(lambda: Response("{}", headers={"Cache-Control": "public, max-age=60"})))
    return app


@pytest.fixture
def client(backends_down, monkeypatch):
    return _app(monkeypatch).test_client()


@pytest.fixture
def cors_client(backends_down, monkeypatch):
    return _app(monkeypatch, GATEWAY_CORS_ORIGINS=f"{FRONT_END}, http://localhost:5173/").test_client()


def _problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert (body["status"], body["code"], body["type"]) == (status, code, f"/problems/{code}")
    assert body["request_id"] == response.headers["X-Request-Id"]
    return body


# -- security headers ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/me", "/api/v1/nothing-here", "/healthz", "/api/v1/openapi.json"])
def test_every_answer_carries_the_security_headers(client, path):
    headers = client.get(path).headers

    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "Strict-Transport-Security" not in headers  # plain HTTP


def test_api_answers_may_load_nothing(client):
    policy = client.get("/api/v1/me").headers["Content-Security-Policy"]

    assert policy == hardening.API_CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in policy


def test_the_web_app_keeps_its_own_policy(client):
    response = client.get("/")

    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == WEB_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_hsts_only_when_a_trusted_proxy_says_https(backends_down, monkeypatch):
    behind_proxy = _app(monkeypatch, GATEWAY_TRUSTED_PROXIES="1").test_client()

    secure = behind_proxy.get("/healthz", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"})
    plain = behind_proxy.get("/healthz", headers={"X-Forwarded-Proto": "http", "X-Forwarded-For": "203.0.113.7"})

    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Strict-Transport-Security" not in plain.headers


def test_a_forwarded_proto_from_an_untrusted_client_is_ignored(client):
    assert "Strict-Transport-Security" not in client.get("/healthz", headers={"X-Forwarded-Proto": "https"}).headers


def test_authenticated_and_token_answers_are_not_stored(client):
    authenticated = client.get("/api/v1/me", headers={"Authorization": "Bearer not-a-jwt"})
    sign_in = client.post("/api/v1/auth/login", json={"login": "jan", "password": "x"})  # tokens come back here
    cacheable_with_token = client.get("/api/v1/test-cacheable", headers={"Authorization": "Bearer x"})

    assert authenticated.headers["Cache-Control"] == "no-store"
    assert sign_in.headers["Cache-Control"] == "no-store"
    assert cacheable_with_token.headers["Cache-Control"] == "no-store"


def test_a_public_answer_may_choose_to_be_cached(client):
    assert client.get("/api/v1/test-cacheable").headers["Cache-Control"] == "public, max-age=60"


# -- problem details for what the framework answers -------------------------------------------------


def test_wrong_method_is_405_naming_the_allowed_ones(client):
    response = client.delete("/api/v1/auth/login")

    _problem(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_unknown_path_outside_the_api_is_a_problem_too(client):
    _problem(client.get("/no-such-page.php"), 404, "not_found")


# -- CORS -------------------------------------------------------------------------------------------


def test_without_configured_origins_a_preflight_is_refused(client):
    response = client.options("/api/v1/me", headers={"Origin": FRONT_END, "Access-Control-Request-Method": "GET"})

    _problem(response, 403, "forbidden")
    assert "Access-Control-Allow-Origin" not in response.headers


def test_without_configured_origins_no_answer_allows_another_origin(client):
    assert "Access-Control-Allow-Origin" not in client.get("/api/v1/me", headers={"Origin": FRONT_END}).headers


def test_a_configured_front_end_gets_its_preflight(cors_client):
    response = cors_client.options(
        "/api/v1/grades", headers={"Origin": FRONT_END, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type"}
    )

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == FRONT_END
    assert {"POST", "PATCH", "DELETE"} <= {m.strip() for m in response.headers["Access-Control-Allow-Methods"].split(",")}
    assert {"authorization", "content-type", "idempotency-key", "if-match"} <= {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    assert "Origin" in response.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert response.headers["X-Request-Id"]


def test_a_configured_front_end_reads_answers_and_their_request_id(cors_client):
    response = cors_client.get("/api/v1/me", headers={"Origin": "http://localhost:5173"})  # listed with a trailing slash

    _problem(response, 401, "unauthenticated")
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert "X-Request-Id" in response.headers["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_another_origin_gets_nothing(cors_client):
    preflight = cors_client.options("/api/v1/me", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    answer = cors_client.get("/api/v1/me", headers={"Origin": "https://evil.example"})

    _problem(preflight, 403, "forbidden")
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert "Origin" in answer.headers["Vary"]


def test_cors_is_for_the_api_only(cors_client):
    assert "Access-Control-Allow-Origin" not in cors_client.get("/healthz", headers={"Origin": FRONT_END}).headers


@pytest.mark.parametrize("value", ["*", "https://app.example.pl/path", "app.example.pl", "https://*.example.pl", "null"])
def test_a_wildcard_path_or_bare_host_is_not_an_origin(monkeypatch, value):
    monkeypatch.setenv("GATEWAY_CORS_ORIGINS", value)

    with pytest.raises(ConfigError, match="GATEWAY_CORS_ORIGINS"):
        load_settings(GatewaySettings)


def test_origins_are_a_comma_separated_list(monkeypatch):
    monkeypatch.setenv("GATEWAY_CORS_ORIGINS", " https://App.Example.pl/ ,http://localhost:5173,, http://[::1]:8000")

    assert load_settings(GatewaySettings).cors_origin_set == {"https://app.example.pl", "http://localhost:5173", "http://[::1]:8000"}


def test_no_origins_by_default():
    assert load_settings(GatewaySettings).cors_origin_set == frozenset()


# -- /api/docs ---------------------------------------------------------------------------------------


def test_the_docs_page_is_served_by_the_gateway_itself(client):
    page = client.get("/api/docs")

    assert page.status_code == 200 and page.mimetype == "text/html"
    assert page.headers["Content-Security-Policy"] == docs.CONTENT_SECURITY_POLICY
    html = page.get_data(as_text=True)
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # nothing from another origin
    assert "<script>" not in html and "<style" not in html and " style=" not in html  # nothing inline
    assets = [a for a in re.findall(r"(?:src|href)=\"([^\"]+)\"", html) if not a.startswith("data:")]
    assert {"docs/swagger-ui-bundle.js", "docs/swagger-ui.css", "docs/init.js", "v1/openapi.json"} <= set(assets)
    for asset in assets:
        served = client.get(f"/api/{asset}")  # relative to /api/docs
        assert served.status_code == 200, asset
        assert served.headers["X-Content-Type-Options"] == "nosniff"


def test_the_docs_scripts_come_as_javascript_and_load_only_our_document(client):
    init = client.get("/api/docs/init.js")
    bundle = client.get("/api/docs/swagger-ui-bundle.js")

    assert init.mimetype == bundle.mimetype == "text/javascript"
    script = init.get_data(as_text=True)
    assert "v1/openapi.json" in script and "validatorUrl: null" in script and "queryConfigEnabled: false" in script
    assert not re.search(r"https?://", script)


def test_the_docs_policy_allows_nothing_inline_and_nothing_foreign():
    directives = dict(part.strip().split(" ", 1) for part in docs.CONTENT_SECURITY_POLICY.split(";"))

    assert directives["default-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    for name, values in directives.items():
        assert set(values.split()) <= {"'self'", "'none'", "data:"}, f"{name} allows {values}"
    assert "data:" not in directives["script-src"] + directives["style-src"]


@pytest.mark.parametrize("name", ["../docs.py", "LICENSE", "swagger-ui.css.map", "index.html"])
def test_only_the_docs_assets_are_served(client, name):
    _problem(client.get(f"/api/docs/{name}"), 404, "not_found")


# -- the OpenAPI document ----------------------------------------------------------------------------


def _operations(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    return spec, [(path, method, op) for path, item in spec["paths"].items() for method, op in item.items() if method in {"get", "post", "put", "patch", "delete"}]


def test_every_operation_declares_problem_details_for_its_errors(client):
    spec, operations = _operations(client)

    assert operations
    for name in ("DEFAULT_ERROR", "BAD_REQUEST", "UNAUTHORIZED"):
        assert spec["components"]["responses"][name]["content"] == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert {"type", "title", "status", "detail", "code", "request_id", "errors"} <= set(spec["components"]["schemas"]["Problem"]["properties"])
    for path, method, operation in operations:
        responses = operation["responses"]
        assert responses["default"] == {"$ref": "#/components/responses/DEFAULT_ERROR"}, (method, path)
        assert "422" not in responses, (method, path)  # validation answers 400 validation_error
        if "requestBody" in operation and "application/json" in operation["requestBody"]["content"]:
            assert responses["400"] == {"$ref": "#/components/responses/BAD_REQUEST"}, (method, path)


def test_the_document_says_which_operations_need_a_token(client):
    spec, operations = _operations(client)

    assert spec["security"] == [{"bearer": []}]
    public_ones = {(method, path) for path, method, operation in operations if operation.get("security") == []}
    assert {("post", "/api/v1/auth/login"), ("post", "/api/v1/auth/refresh"), ("post", "/api/v1/billing/payu/notify")} <= public_ones
    assert ("get", "/api/v1/me") not in public_ones
    for path, method, operation in operations:
        if (method, path) not in public_ones:
            assert operation["responses"]["401"] == {"$ref": "#/components/responses/UNAUTHORIZED"}, (method, path)
