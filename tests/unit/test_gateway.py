"""The gateway's HTTP behaviour through Flask's test client.

Backends are either absent (every <SERVICE>_GRPC_PORT points at port 1, which refuses at once) or,
for a few tests, one small identity servicer on 127.0.0.1 run with platform_kit's own server.
"""
from __future__ import annotations

import json
import re
from datetime import timedelta

import grpc
import pytest

from dziennik.identity.v1 import identity_pb2, identity_pb2_grpc
from gateway import create_app
from gateway.problems import Problem, from_rpc_error
from platform_kit import errors
from platform_kit.auth import TokenVerifier, current_principal
from platform_kit.config import DEFAULT_GRPC_PORTS
from platform_kit.grpc_server import ERROR_CODE_KEY, FIELD_ERRORS_KEY, Registration, create_server
from services.identity.credentials import SigningKeys

pytestmark = pytest.mark.timeout(30)

PROBLEM_JSON = "application/problem+json"


@pytest.fixture
def backends_down(monkeypatch):
    for service in DEFAULT_GRPC_PORTS:
        monkeypatch.setenv(f"{service.upper()}_GRPC_PORT", "1")
    monkeypatch.setenv("DZIENNIK_GRPC_DEADLINE", "0.5")
    monkeypatch.setenv("GATEWAY_READINESS_TIMEOUT", "0.5")


@pytest.fixture
def client(backends_down):
    return create_app().test_client()


def _problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json(force=True)
    assert body["code"] == code
    assert body["status"] == status
    assert body["type"] == f"/problems/{code}"
    assert body["title"]
    assert body["detail"]
    assert body["request_id"] == response.headers["X-Request-Id"]
    return body


# -- health ------------------------------------------------------------------------------------


def test_healthz_is_ok_without_backends(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_reports_every_backend_down(client):
    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["backends"] == {service: False for service in DEFAULT_GRPC_PORTS}


def test_metrics_are_public(client):
    client.get("/healthz")

    response = client.get("/metrics")

    assert response.status_code == 200
    assert b"http_requests_total" in response.data


# -- problem details and request ids -----------------------------------------------------------


def test_protected_endpoint_without_token_is_401(client):
    body = _problem(client.get("/api/v1/me"), 401, "unauthenticated")

    assert re.fullmatch(r"[0-9a-f]{32}", body["request_id"])


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/me"), ("POST", "/api/v1/grades"), ("GET", "/api/v1/students/s-1/grades"), ("POST", "/api/v1/auth/logout")],
)
def test_every_protected_endpoint_needs_a_token(client, method, path):
    _problem(client.open(path, method=method, json={}), 401, "unauthenticated")


@pytest.mark.parametrize("authorization", ["Basic dXNlcjpwdw==", "Bearer", "Bearer not-a-jwt", "Token abc"])
def test_malformed_authorization_is_401(client, authorization):
    _problem(client.get("/api/v1/me", headers={"Authorization": authorization}), 401, "unauthenticated")


def test_each_request_gets_its_own_id(client):
    first = client.get("/api/v1/me").headers["X-Request-Id"]
    second = client.get("/api/v1/me").headers["X-Request-Id"]

    assert first != second


@pytest.mark.parametrize("supplied", ["abc-123", "web:7f3a.42_x", "a" * 128])
def test_supplied_request_id_is_echoed(client, supplied):
    response = client.get("/api/v1/me", headers={"X-Request-Id": supplied})

    assert response.headers["X-Request-Id"] == supplied
    assert response.get_json(force=True)["request_id"] == supplied


@pytest.mark.parametrize("supplied", ["a" * 129, "a" * 300, "has spaces", "semi;colon", "<script>", "zażółć"])
def test_invalid_request_id_is_replaced(client, supplied):
    response = client.get("/healthz", headers={"X-Request-Id": supplied})

    assert response.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-Id"])


def test_login_without_password_is_a_validation_error(client):
    body = _problem(client.post("/api/v1/auth/login", json={"login": "jan.kowalski"}), 400, "validation_error")

    assert set(body["errors"]) == {"password"}


def test_login_with_empty_body_names_both_fields(client):
    body = _problem(client.post("/api/v1/auth/login", json={}), 400, "validation_error")

    assert set(body["errors"]) == {"login", "password"}


def test_non_json_body_is_415(client):
    response = client.post("/api/v1/auth/login", data="login=jan&password=x", content_type="application/x-www-form-urlencoded")

    _problem(response, 415, "unsupported_media_type")


def test_broken_json_is_400(client):
    response = client.post("/api/v1/auth/login", data='{"login": "jan", "password": ', content_type="application/json")

    _problem(response, 400, "validation_error")


def test_unknown_path_is_404(client):
    _problem(client.get("/api/v1/nothing-here"), 404, "not_found")


def test_wrong_method_is_405(client):
    _problem(client.delete("/healthz"), 405, "method_not_allowed")


def test_too_large_body_is_413(client):
    response = client.post("/api/v1/auth/login", data=b"x" * (1024 * 1024 + 1), content_type="application/json")

    _problem(response, 413, "payload_too_large")


def test_authentication_is_checked_before_the_body(client):
    response = client.post("/api/v1/grades", data="value=4", content_type="text/plain")

    _problem(response, 401, "unauthenticated")


def test_login_while_identity_is_down_is_503_without_internals(client):
    body = _problem(client.post("/api/v1/auth/login", json={"login": "jan", "password": "secret-password"}), 503, "unavailable")

    text = json.dumps(body)
    assert "127.0.0.1" not in text
    assert not re.search(r":\d+\b", text)
    assert "connect" not in text.lower()


def test_jwks_while_identity_is_down_is_503(client):
    _problem(client.get("/api/v1/auth/jwks.json"), 503, "unavailable")


def test_well_formed_token_while_identity_is_down_is_503(client):
    keys = SigningKeys(dict([SigningKeys.generate()]))
    token = keys.access_token(user_id="u-1", school_id="s-1", roles=["teacher"], session_id="x", ttl=timedelta(minutes=5))

    _problem(client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}), 503, "unavailable")


def test_titles_follow_accept_language(client):
    polish = client.get("/api/v1/me").get_json(force=True)
    english = client.get("/api/v1/me", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_json(force=True)
    down = client.post("/api/v1/auth/login", json={"login": "a", "password": "b"}, headers={"Accept-Language": "en"})

    assert polish["title"] == "Wymagane zalogowanie"
    assert english["title"] == "Authentication required"
    assert down.get_json(force=True)["title"] == "Service temporarily unavailable"
    assert down.get_json(force=True)["detail"] == "Service temporarily unavailable"


def test_openapi_document_is_public_and_lists_the_api(client):
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    paths = response.get_json()["paths"]
    for path in ("/api/v1/auth/login", "/api/v1/me", "/api/v1/grades", "/api/v1/students/{student_id}/grades"):
        assert path in paths, path
    assert "post" in paths["/api/v1/auth/login"]
    assert "post" in paths["/api/v1/grades"]
    assert "get" in paths["/api/v1/students/{student_id}/grades"]


# -- gRPC status → problem ---------------------------------------------------------------------


class FakeRpcError(grpc.RpcError):
    """What a failed call raises: a status code, details and trailing metadata."""

    def __init__(self, code: grpc.StatusCode, details: str = "", trailing=()) -> None:
        self._code, self._details, self._trailing = code, details, tuple(trailing)

    def code(self):
        return self._code

    def details(self):
        return self._details

    def trailing_metadata(self):
        return self._trailing


def test_weak_password_from_the_backend():
    error = FakeRpcError(
        grpc.StatusCode.INVALID_ARGUMENT,
        "hasło nie spełnia wymagań",
        [(ERROR_CODE_KEY, "weak_password"), (FIELD_ERRORS_KEY, json.dumps({"password": "8 to 64 characters"}))],
    )

    problem = from_rpc_error(error)

    assert isinstance(problem, Problem)
    assert problem.code == "weak_password"
    assert problem.detail == "hasło nie spełnia wymagań"
    assert problem.errors == {"password": "8 to 64 characters"}


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, "validation_error"),
        (grpc.StatusCode.UNAUTHENTICATED, "unauthenticated"),
        (grpc.StatusCode.PERMISSION_DENIED, "forbidden"),
        (grpc.StatusCode.NOT_FOUND, "not_found"),
        (grpc.StatusCode.ALREADY_EXISTS, "conflict"),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "rate_limited"),
    ],
)
def test_status_without_a_named_code(status, code):
    problem = from_rpc_error(FakeRpcError(status, "the backend's words"))

    assert problem.code == code
    assert problem.detail == "the backend's words"
    assert problem.errors is None


@pytest.mark.parametrize("status", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED])
def test_outage_is_unavailable_without_details(status):
    problem = from_rpc_error(FakeRpcError(status, "failed to connect to all addresses; ipv4:10.0.0.7:50051"))

    assert problem.code == "unavailable"
    assert problem.detail is None


@pytest.mark.parametrize("status", [grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS])
def test_internal_error_hides_details(status):
    problem = from_rpc_error(FakeRpcError(status, "Exception calling application: KeyError('password_hash')"))

    assert problem.code == "internal_error"
    assert problem.detail is None


def test_extended_access_code_wins_over_status():
    error = FakeRpcError(grpc.StatusCode.FAILED_PRECONDITION, "wymagany dostęp rozszerzony", [(ERROR_CODE_KEY, "extended_access_required")])

    assert from_rpc_error(error).code == "extended_access_required"


# -- with an identity service that answers -----------------------------------------------------


class _Identity(identity_pb2_grpc.IdentityServiceServicer):
    """A stand-in identity: one account, `jan.kowalski` / `correct horse`."""

    def __init__(self, keys: SigningKeys) -> None:
        self.keys = keys
        self.extended = True
        self.access_checks = 0

    def CheckAccess(self, request, context):
        self.access_checks += 1
        if request.student_id != "s-1":
            raise errors.NotFound("nie ma takiego ucznia")
        if not self.extended:
            raise errors.ExtendedAccessRequired("ta funkcja wymaga dostępu rozszerzonego")
        return identity_pb2.CheckAccessResponse()

    def Login(self, request, context):
        if (request.login, request.password) != ("jan.kowalski", "correct horse"):
            raise errors.Unauthenticated("nieprawidłowy login lub hasło", code="invalid_credentials")
        token = self.keys.access_token(
            user_id="u-1", school_id="school-1", roles=["parent"], session_id="sess-1", ttl=timedelta(minutes=15)
        )
        return identity_pb2.LoginResponse(tokens=identity_pb2.TokenPair(access_token=token, refresh_token="r-1", expires_in=900))

    def Activate(self, request, context):
        raise errors.InvalidArgument("password too weak", code="weak_password", field_errors={"password": "8 to 64 characters"})

    def GetJwks(self, request, context):
        return identity_pb2.GetJwksResponse(jwks_json=self.keys.jwks_json())

    def GetMe(self, request, context):
        principal = current_principal()
        return identity_pb2.GetMeResponse(
            id=principal.user_id,
            login="jan.kowalski",
            first_name="Jan",
            last_name="Kowalski",
            roles=[identity_pb2.ROLE_PARENT],
            school_id=principal.school_id,
            children=[identity_pb2.Child(student_id="s-1", first_name="Zosia", last_name="Kowalska")],
        )


@pytest.fixture
def identity_client(backends_down, monkeypatch):
    keys = SigningKeys(dict([SigningKeys.generate()]))
    registration = Registration(
        identity_pb2_grpc.add_IdentityServiceServicer_to_server, _Identity(keys), "dziennik.identity.v1.IdentityService"
    )
    server, port, _ = create_server(
        "127.0.0.1:0", [registration], verifier=TokenVerifier(keys.jwks_json), service_token="x" * 16, max_workers=4
    )
    server.start()
    monkeypatch.setenv("IDENTITY_GRPC_TARGET", f"127.0.0.1:{port}")
    client = create_app().test_client()
    client.identity = registration.servicer
    yield client
    server.stop(0).wait()


def test_login_then_me(identity_client):
    login = identity_client.post("/api/v1/auth/login", json={"login": "jan.kowalski", "password": "correct horse"})

    assert login.status_code == 200, login.get_data(as_text=True)
    tokens = login.get_json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 900
    assert tokens["refresh_token"] == "r-1"
    assert "password" not in tokens

    me = identity_client.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})

    assert me.status_code == 200, me.get_data(as_text=True)
    body = me.get_json()
    assert body["id"] == "u-1"
    assert body["roles"] == ["parent"]
    assert body["school_id"] == "school-1"
    assert body["children"][0]["student_id"] == "s-1"
    assert body["access"] == {"tier": "basic", "valid_until": None}


def test_wrong_password_is_invalid_credentials(identity_client):
    response = identity_client.post("/api/v1/auth/login", json={"login": "jan.kowalski", "password": "wrong"})

    body = _problem(response, 401, "invalid_credentials")
    assert body["detail"] == "nieprawidłowy login lub hasło"


def test_weak_password_on_activation_is_400_with_errors(identity_client):
    response = identity_client.post("/api/v1/auth/activate", json={"activation_code": "ABCD-EFGH-JKMN", "password": "short"})

    body = _problem(response, 400, "weak_password")
    assert body["errors"] == {"password": "8 to 64 characters"}


def test_jwks_is_public_and_cacheable(identity_client):
    response = identity_client.get("/api/v1/auth/jwks.json")

    assert response.status_code == 200
    assert response.mimetype == "application/jwk-set+json"
    assert "max-age" in response.headers["Cache-Control"]
    [key] = json.loads(response.data)["keys"]
    assert key["alg"] == "EdDSA"
    assert "d" not in key


def test_token_from_a_foreign_key_is_401(identity_client):
    stranger = SigningKeys(dict([SigningKeys.generate()]))
    token = stranger.access_token(user_id="u-9", school_id="s-9", roles=["superadmin"], session_id="x", ttl=timedelta(minutes=5))

    _problem(identity_client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}), 401, "unauthenticated")


def test_identitys_yes_to_an_access_check_is_kept_its_no_never(identity_client):
    """gateway/security.py require_access: a granted check is not asked again within
    GATEWAY_ACCESS_CACHE_SECONDS; a refusal always is (a payment counts at once)."""
    from gateway.security import require_access

    app, identity = identity_client.application, identity_client.identity
    token = identity.keys.access_token(user_id="u-1", school_id="school-1", roles=["parent"], session_id="s", ttl=timedelta(minutes=5))

    def check(student_id: str) -> str:
        with app.test_request_context(headers={"Authorization": f"Bearer {token}"}):
            try:
                require_access(student_id, "grades")
                return "granted"
            except grpc.RpcError as exc:
                return exc.code().name

    identity.extended = False
    assert check("s-1") != "granted" and check("s-1") != "granted"
    assert identity.access_checks == 2  # refusals are asked each time
    identity.extended = True  # paid
    assert check("s-1") == "granted" and check("s-1") == "granted"
    assert identity.access_checks == 3  # the yes was kept
    assert check("s-2") == "NOT_FOUND" and identity.access_checks == 4
