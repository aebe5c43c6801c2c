"""platform_kit.grpc_server and grpc_client: a real in-process server on 127.0.0.1, no other process."""
from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY
from sqlalchemy.exc import OperationalError

from dziennik.gradebook.v1 import gradebook_pb2, gradebook_pb2_grpc
from platform_kit import errors
from platform_kit.auth import SERVICE, current_principal, service_metadata
from platform_kit.context import correlation_id, reset_correlation_id, set_correlation_id
from platform_kit.grpc_client import open_channel
from platform_kit.grpc_server import (
    ERROR_CODE_KEY,
    FIELD_ERRORS_KEY,
    READINESS,
    ErrorInterceptor,
    ReadinessProbe,
    Registration,
    create_server,
    status_for,
)
from services.gradebook.grades import normalise_grade_value

pytestmark = pytest.mark.timeout(30)

SERVICE_NAME = "dziennik.gradebook.v1.GradebookService"
SERVICE_TOKEN = "x" * 16
CHANNEL_DEADLINE = 2.0  # not the library's 5 s, so the test sees which one applied
# gRPC rounds the timeout it sends up (a few ms on seconds), so the server may see a hair more.
_ROUNDING = 1.05


# -- the one table ---------------------------------------------------------------------------


class _WeakPassword(errors.InvalidArgument):
    """A subclass of a subclass: still INVALID_ARGUMENT."""


class _SubjectMissing(errors.NotFound):
    pass


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.InvalidArgument("x"), grpc.StatusCode.INVALID_ARGUMENT),
        (errors.Unauthenticated("x"), grpc.StatusCode.UNAUTHENTICATED),
        (errors.PermissionDenied("x"), grpc.StatusCode.PERMISSION_DENIED),
        (errors.NotFound("x"), grpc.StatusCode.NOT_FOUND),
        (errors.Conflict("x"), grpc.StatusCode.ALREADY_EXISTS),
        (errors.ExtendedAccessRequired("x"), grpc.StatusCode.FAILED_PRECONDITION),
        (errors.Unavailable("x"), grpc.StatusCode.UNAVAILABLE),
        (errors.DomainError("x"), grpc.StatusCode.INTERNAL),
        (_WeakPassword("x", code="weak_password"), grpc.StatusCode.INVALID_ARGUMENT),
        (_SubjectMissing("x"), grpc.StatusCode.NOT_FOUND),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else value.name,
)
def test_status_for_each_domain_error(error, status):
    assert status_for(error) == status


# -- a tiny servicer on a real server --------------------------------------------------------


class _Servicer(gradebook_pb2_grpc.GradebookServiceServicer):
    """Raises the errors the tests look at; records what the handler saw of its context."""

    def __init__(self) -> None:
        self.seen: list[dict] = []
        self._lock = threading.Lock()

    def RecordGrade(self, request, context):
        if request.comment == "real rule":  # the domain's own error, with its Polish messages
            normalise_grade_value(request.value)
        raise errors.InvalidArgument("niepoprawna ocena", field_errors={"value": "must be 1-6, e.g. 4+"})

    def CreateSubject(self, request, context):
        if request.name == "database down":
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("no database"))
        if request.name == "bug":
            raise RuntimeError("secret internals")
        if request.name == "backend down":  # a call to another service that is away
            broken = grpc.insecure_channel("127.0.0.1:1")
            gradebook_pb2_grpc.GradebookServiceStub(broken).ListSubjects(gradebook_pb2.ListSubjectsRequest(), timeout=0.5)
        raise errors.NotFound("nie ma takiej szkoły")

    def ListStudentGrades(self, request, context):
        try:
            principal = current_principal()
        except errors.Unauthenticated:
            principal = None
        with self._lock:
            self.seen.append(
                {"time_remaining": context.time_remaining(), "correlation_id": correlation_id(), "principal": principal}
            )
        return gradebook_pb2.ListStudentGradesResponse(student_id=request.student_id)


def test_registration_of_a_servicer_names_its_service():
    servicer = _Servicer()

    registration = Registration.of(servicer)

    assert registration == Registration(gradebook_pb2_grpc.add_GradebookServiceServicer_to_server, servicer, SERVICE_NAME)


def test_registration_of_a_plain_object_is_refused():
    with pytest.raises(TypeError):
        Registration.of(object())


@pytest.fixture(scope="module")
def server():
    servicer = _Servicer()
    registration = Registration(gradebook_pb2_grpc.add_GradebookServiceServicer_to_server, servicer, SERVICE_NAME)
    grpc_server, port, health_servicer = create_server(
        "127.0.0.1:0", [registration], verifier=None, service_token=SERVICE_TOKEN, max_workers=4
    )
    grpc_server.start()
    channel = open_channel(f"127.0.0.1:{port}", deadline_seconds=CHANNEL_DEADLINE)
    yield {"port": port, "servicer": servicer, "channel": channel, "health": health_servicer}
    channel.close()
    grpc_server.stop(0).wait()


@pytest.fixture
def stub(server):
    return gradebook_pb2_grpc.GradebookServiceStub(server["channel"])


def _call_failing(call, request, **kwargs) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(request, **kwargs)
    return caught.value


def _trailing(error: grpc.RpcError) -> dict:
    return dict(error.trailing_metadata() or ())


def test_invalid_argument_carries_code_and_field_errors(stub):
    error = _call_failing(stub.RecordGrade, gradebook_pb2.RecordGradeRequest(value="7"))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "niepoprawna ocena"
    trailing = _trailing(error)
    assert trailing[ERROR_CODE_KEY] == "validation_error"
    assert json.loads(trailing[FIELD_ERRORS_KEY]) == {"value": "must be 1-6, e.g. 4+"}


def test_polish_field_errors_reach_the_caller(stub):
    # gRPC refuses non-ASCII metadata values: the JSON must escape Polish letters, or every
    # validation error of a real rule would reach the gateway as INTERNAL "Invalid metadata".
    error = _call_failing(stub.RecordGrade, gradebook_pb2.RecordGradeRequest(value="7", comment="real rule"))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "niepoprawna ocena"
    raw = _trailing(error)[FIELD_ERRORS_KEY]
    assert raw.isascii()
    assert json.loads(raw)["value"].startswith("Ocena musi mieć postać")


def test_not_found_carries_code_without_field_errors(stub):
    error = _call_failing(stub.CreateSubject, gradebook_pb2.CreateSubjectRequest(name="Fizyka"))

    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == "nie ma takiej szkoły"
    trailing = _trailing(error)
    assert trailing[ERROR_CODE_KEY] == "not_found"
    assert FIELD_ERRORS_KEY not in trailing


def test_database_outage_becomes_unavailable(stub):
    error = _call_failing(stub.CreateSubject, gradebook_pb2.CreateSubjectRequest(name="database down"))

    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert _trailing(error)[ERROR_CODE_KEY] == "unavailable"
    assert "no database" not in error.details()


def test_a_backend_away_makes_the_call_unavailable_not_unknown(stub):
    error = _call_failing(stub.CreateSubject, gradebook_pb2.CreateSubjectRequest(name="backend down"))

    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert _trailing(error)[ERROR_CODE_KEY] == "unavailable"


def test_unexpected_exception_is_not_a_domain_status(stub):
    error = _call_failing(stub.CreateSubject, gradebook_pb2.CreateSubjectRequest(name="bug"))

    assert error.code() == grpc.StatusCode.UNKNOWN
    assert ERROR_CODE_KEY not in _trailing(error)


def test_normal_call_answers(stub):
    answer = stub.ListStudentGrades(gradebook_pb2.ListStudentGradesRequest(student_id="s-1"))

    assert answer.student_id == "s-1"


def test_each_interceptor_wraps_a_methods_handler_once_and_keeps_it():
    asked = []

    def continuation(details):
        asked.append(details.method)
        return grpc.unary_unary_rpc_method_handler(lambda request, context: f"answer to {request}")

    interceptor = ErrorInterceptor()
    grades = SimpleNamespace(method="/dziennik.gradebook.v1.GradebookService/ListStudentGrades", invocation_metadata=())
    first = interceptor.intercept_service(continuation, grades)
    again = interceptor.intercept_service(continuation, grades)

    assert again is first and asked == [grades.method]  # asked once: grpc asks every interceptor on every call
    assert first.unary_unary("s-1", None) == "answer to s-1"
    other = SimpleNamespace(method="/dziennik.gradebook.v1.GradebookService/SetTermGrade", invocation_metadata=())
    assert interceptor.intercept_service(continuation, other) is not first and asked == [grades.method, other.method]


def test_many_calls_of_several_methods_each_reach_their_own_handler(stub):
    for n in range(20):
        assert stub.ListStudentGrades(gradebook_pb2.ListStudentGradesRequest(student_id=f"s-{n}")).student_id == f"s-{n}"
        assert _call_failing(stub.RecordGrade, gradebook_pb2.RecordGradeRequest(value="7")).code() == grpc.StatusCode.INVALID_ARGUMENT


# -- caller context ----------------------------------------------------------------------------


def test_channel_adds_its_default_deadline(server, stub):
    stub.ListStudentGrades(gradebook_pb2.ListStudentGradesRequest(student_id="deadline"))

    remaining = server["servicer"].seen[-1]["time_remaining"]
    assert remaining is not None
    assert 0 < remaining <= CHANNEL_DEADLINE * _ROUNDING


def test_callers_own_timeout_wins(server, stub):
    stub.ListStudentGrades(gradebook_pb2.ListStudentGradesRequest(student_id="timeout"), timeout=30)

    assert CHANNEL_DEADLINE * _ROUNDING < server["servicer"].seen[-1]["time_remaining"] <= 30 * _ROUNDING


def test_call_to_a_backend_that_is_down_ends_at_the_deadline():
    channel = open_channel("127.0.0.1:1", deadline_seconds=0.3)
    started = time.monotonic()
    try:
        with pytest.raises(grpc.RpcError) as caught:
            gradebook_pb2_grpc.GradebookServiceStub(channel).ListStudentGrades(gradebook_pb2.ListStudentGradesRequest())
    finally:
        channel.close()

    assert caught.value.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE)
    assert time.monotonic() - started < 3


def test_correlation_id_reaches_the_handler(server, stub):
    token = set_correlation_id("req-4711")
    try:
        stub.ListStudentGrades(gradebook_pb2.ListStudentGradesRequest(student_id="corr"))
    finally:
        reset_correlation_id(token)

    assert server["servicer"].seen[-1]["correlation_id"] == "req-4711"


def test_handler_gets_a_fresh_correlation_id_when_caller_has_none(server, stub):
    assert correlation_id() is None

    stub.ListStudentGrades(gradebook_pb2.ListStudentGradesRequest(student_id="a"))
    stub.ListStudentGrades(gradebook_pb2.ListStudentGradesRequest(student_id="b"))

    first, second = (seen["correlation_id"] for seen in server["servicer"].seen[-2:])
    assert first and second and first != second


def test_service_token_makes_the_caller_the_service(server, stub):
    stub.ListStudentGrades(gradebook_pb2.ListStudentGradesRequest(student_id="svc"), metadata=service_metadata(SERVICE_TOKEN))

    assert server["servicer"].seen[-1]["principal"] == SERVICE


def test_no_authorization_means_no_principal(server, stub):
    stub.ListStudentGrades(gradebook_pb2.ListStudentGradesRequest(student_id="anon"))

    assert server["servicer"].seen[-1]["principal"] is None


@pytest.mark.parametrize(
    "authorization", [f"Service {'y' * 16}", f"Service {SERVICE_TOKEN}x", "Bearer abc.def.ghi", "Basic dXNlcjpwdw=="]
)
def test_unrecognised_credentials_are_refused(server, stub, authorization):
    before = len(server["servicer"].seen)

    error = _call_failing(
        stub.ListStudentGrades, gradebook_pb2.ListStudentGradesRequest(student_id="x"), metadata=(("authorization", authorization),)
    )

    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert _trailing(error)[ERROR_CODE_KEY] == "unauthenticated"
    assert len(server["servicer"].seen) == before  # the handler never ran


# -- metrics -----------------------------------------------------------------------------------


def _handled(method: str, code: str) -> float:
    value = REGISTRY.get_sample_value(
        "grpc_server_handled_total", {"grpc_service": SERVICE_NAME, "grpc_method": method, "grpc_code": code}
    )
    return value or 0.0


def test_metrics_count_each_call_by_status(stub):
    invalid_before, ok_before, not_found_before = (
        _handled("RecordGrade", "INVALID_ARGUMENT"),
        _handled("ListStudentGrades", "OK"),
        _handled("CreateSubject", "NOT_FOUND"),
    )

    _call_failing(stub.RecordGrade, gradebook_pb2.RecordGradeRequest(value="0"))
    stub.ListStudentGrades(gradebook_pb2.ListStudentGradesRequest(student_id="m"))
    _call_failing(stub.CreateSubject, gradebook_pb2.CreateSubjectRequest(name="Chemia"))

    assert _handled("RecordGrade", "INVALID_ARGUMENT") == invalid_before + 1
    assert _handled("ListStudentGrades", "OK") == ok_before + 1
    assert _handled("CreateSubject", "NOT_FOUND") == not_found_before + 1
    assert _handled("RecordGrade", "OK") == 0


# -- health ------------------------------------------------------------------------------------


@pytest.fixture
def fresh_server():
    registration = Registration(gradebook_pb2_grpc.add_GradebookServiceServicer_to_server, _Servicer(), SERVICE_NAME)
    grpc_server, port, health_servicer = create_server(
        "127.0.0.1:0", [registration], verifier=None, service_token=SERVICE_TOKEN, max_workers=2
    )
    grpc_server.start()
    channel = open_channel(f"127.0.0.1:{port}", deadline_seconds=CHANNEL_DEADLINE)
    yield health_pb2_grpc.HealthStub(channel), health_servicer
    channel.close()
    grpc_server.stop(0).wait()


def _status(health_stub, name: str):
    return health_stub.Check(health_pb2.HealthCheckRequest(service=name)).status


def test_live_but_not_ready_right_after_create_server(fresh_server):
    health_stub, _ = fresh_server

    assert _status(health_stub, "") == health_pb2.HealthCheckResponse.SERVING
    assert _status(health_stub, READINESS) == health_pb2.HealthCheckResponse.NOT_SERVING
    assert _status(health_stub, SERVICE_NAME) == health_pb2.HealthCheckResponse.NOT_SERVING


def test_readiness_probe_follows_its_checks(fresh_server):
    health_stub, health_servicer = fresh_server
    database_up = {"value": True}

    def check_database():
        if not database_up["value"]:
            raise ConnectionRefusedError("database down")

    probe = ReadinessProbe(health_servicer, [SERVICE_NAME], [check_database, lambda: None])

    assert probe.check_once() is True
    assert _status(health_stub, READINESS) == health_pb2.HealthCheckResponse.SERVING
    assert _status(health_stub, SERVICE_NAME) == health_pb2.HealthCheckResponse.SERVING

    database_up["value"] = False
    assert probe.check_once() is False
    assert _status(health_stub, READINESS) == health_pb2.HealthCheckResponse.NOT_SERVING
    assert _status(health_stub, SERVICE_NAME) == health_pb2.HealthCheckResponse.NOT_SERVING
    assert _status(health_stub, "") == health_pb2.HealthCheckResponse.SERVING  # still alive

    database_up["value"] = True
    assert probe.check_once() is True
    assert _status(health_stub, READINESS) == health_pb2.HealthCheckResponse.SERVING


def test_unknown_health_service_is_not_found(fresh_server):
    health_stub, _ = fresh_server

    with pytest.raises(grpc.RpcError) as caught:
        _status(health_stub, "dziennik.nothing.v1.Nothing")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
