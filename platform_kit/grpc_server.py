"""gRPC server bootstrap: health (liveness and readiness), reflection, interceptors for metrics,
caller context and domain errors, and a graceful stop."""
from __future__ import annotations

import importlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent import futures
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from platform_kit import errors
from platform_kit.auth import AUTHORIZATION, TokenVerifier, principal_from_authorization, reset_principal, set_principal
from platform_kit.context import CORRELATION_HEADER, new_correlation_id, reset_correlation_id, set_correlation_id
from platform_kit.grpc_names import ERROR_CODE_KEY, FIELD_ERRORS_KEY, READINESS, RETRY_AFTER_KEY
from platform_kit.metrics import GRPC_HANDLED, GRPC_HANDLING_SECONDS

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 16 * 1024 * 1024

# The one table from domain errors to gRPC status codes.
STATUS_FOR_ERROR: dict[type[errors.DomainError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.Conflict: grpc.StatusCode.ALREADY_EXISTS,
    errors.ExtendedAccessRequired: grpc.StatusCode.FAILED_PRECONDITION,
    errors.RateLimited: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
}


def status_for(error: errors.DomainError) -> grpc.StatusCode:
    for cls in type(error).__mro__:
        if cls in STATUS_FOR_ERROR:
            return STATUS_FOR_ERROR[cls]
    return grpc.StatusCode.INTERNAL


def _split_method(full_method: str) -> tuple[str, str]:
    service, _, method = full_method.lstrip("/").partition("/")
    return service, method


class _UnaryInterceptor(grpc.ServerInterceptor):
    """Wraps the behaviour of unary-unary RPCs (all ours are) with `around`.

    grpc asks every interceptor for the handler of every call; a method's handler never changes
    once the server runs, so each interceptor wraps it once and keeps it (per call this was three
    new handlers and closures, and the lookups behind them)."""

    def __init__(self) -> None:
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

    def around(self, behavior, request, context, method: str):  # pragma: no cover - abstract
        raise NotImplementedError

    def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method
        wrapped = self._wrapped.get(method)
        if wrapped is not None:
            return wrapped
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary

        def behavior(request, context):
            return self.around(inner, request, context, method)

        wrapped = self._wrapped[method] = grpc.unary_unary_rpc_method_handler(
            behavior, request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer
        )
        return wrapped


class MetricsInterceptor(_UnaryInterceptor):
    def around(self, behavior, request, context, method):
        service, name = _split_method(method)
        started = time.perf_counter()
        code = grpc.StatusCode.UNKNOWN
        try:
            response = behavior(request, context)
            code = context.code() or grpc.StatusCode.OK
            return response
        except Exception:
            code = context.code() or grpc.StatusCode.UNKNOWN
            raise
        finally:
            GRPC_HANDLED.labels(service, name, code.name).inc()
            GRPC_HANDLING_SECONDS.labels(service, name).observe(time.perf_counter() - started)


class CallerInterceptor(_UnaryInterceptor):
    """Puts the correlation id and the verified caller into the context of the handler."""

    def __init__(self, verifier: TokenVerifier | None, service_token: str) -> None:
        super().__init__()
        self.verifier = verifier
        self.service_token = service_token

    def around(self, behavior, request, context, method):
        metadata = dict(context.invocation_metadata() or ())
        correlation = set_correlation_id(metadata.get(CORRELATION_HEADER) or new_correlation_id())
        try:
            try:
                principal = principal_from_authorization(metadata.get(AUTHORIZATION), self.verifier, self.service_token)
            except errors.Unauthenticated as exc:
                _abort(context, exc)
            token = set_principal(principal)
            try:
                return behavior(request, context)
            finally:
                reset_principal(token)
        finally:
            reset_correlation_id(correlation)


class ErrorInterceptor(_UnaryInterceptor):
    """The one place where domain errors become gRPC status codes."""

    def around(self, behavior, request, context, method):
        try:
            return behavior(request, context)
        except errors.DomainError as exc:
            _abort(context, exc)
        except IntegrityError as exc:  # a uniqueness race the use case did not foresee: retryable
            log.warning("integrity conflict in %s: %s", method, exc.orig)
            _abort(context, errors.Conflict("zmiana koliduje z inną, wykonaną w tym samym czasie; spróbuj ponownie"))
        except (OperationalError, DBAPIError) as exc:
            if isinstance(exc, OperationalError) or exc.connection_invalidated:
                log.warning("database unavailable in %s: %s", method, exc)
                _abort(context, errors.Unavailable("database unavailable"))
            raise
        except grpc.RpcError as exc:  # a service this one calls is away or too slow: so is this call
            if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                log.warning("a backend of %s is unavailable: %s", method, exc.code())
                _abort(context, errors.Unavailable("usługa chwilowo niedostępna"))
            raise


def _abort(context, error: errors.DomainError):
    trailing = [(ERROR_CODE_KEY, error.code)]
    field_errors = getattr(error, "field_errors", None)
    if field_errors:
        # gRPC metadata values must be ASCII: JSON escapes Polish letters.
        trailing.append((FIELD_ERRORS_KEY, json.dumps(field_errors, ensure_ascii=True)))
    if isinstance(error, errors.RateLimited):
        trailing.append((RETRY_AFTER_KEY, str(error.retry_after)))
    context.set_trailing_metadata(tuple(trailing))
    context.abort(status_for(error), error.detail)


@dataclass(frozen=True)
class Registration:
    """One servicer: the generated `add_XServicer_to_server`, the servicer, its full service name."""

    add_to_server: Callable
    servicer: object
    full_name: str

    @classmethod
    def of(cls, servicer: object) -> "Registration":
        """For a servicer deriving from a generated `<Name>Servicer` class."""
        for base in type(servicer).__mro__:
            if base.__module__.endswith("_pb2_grpc") and base.__name__.endswith("Servicer"):
                grpc_module = importlib.import_module(base.__module__)
                messages = importlib.import_module(base.__module__.removesuffix("_grpc"))
                service = messages.DESCRIPTOR.services_by_name[base.__name__.removesuffix("Servicer")]
                return cls(getattr(grpc_module, f"add_{base.__name__}_to_server"), servicer, service.full_name)
        raise TypeError(f"{type(servicer).__name__} does not derive from a generated servicer")


def create_server(
    address: str,
    registrations: Iterable[Registration],
    *,
    verifier: TokenVerifier | None,
    service_token: str,
    max_workers: int = 16,
) -> tuple[grpc.Server, int, health.HealthServicer]:
    """Build (not start) a server on `address` ("127.0.0.1:0" picks a free port)."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers),
        interceptors=[MetricsInterceptor(), CallerInterceptor(verifier, service_token), ErrorInterceptor()],
        options=[
            ("grpc.so_reuseport", 0),
            # Attachments of up to 10 MB travel in one message.
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    registrations = list(registrations)
    for registration in registrations:
        registration.add_to_server(registration.servicer, server)
    reflection.enable_server_reflection(
        [r.full_name for r in registrations] + [health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"cannot listen on {address}")
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)  # liveness
    for name in [READINESS] + [r.full_name for r in registrations]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    return server, port, health_servicer


class ReadinessProbe:
    """Re-runs `checks` every `interval` seconds and publishes the result as health status of
    `readiness` and of every registered service."""

    def __init__(self, health_servicer, names: list[str], checks: list[Callable[[], None]], interval: float = 5.0) -> None:
        self.health_servicer = health_servicer
        self.names = [READINESS] + names
        self.checks = checks
        self.interval = interval
        self.ready = False

    def check_once(self) -> bool:
        ready = True
        for check in self.checks:
            try:
                check()
            except Exception as exc:
                ready = False
                log.warning("not ready: %s failed: %s", getattr(check, "__name__", check), exc)
        if ready != self.ready:
            log.info("readiness is now %s", ready)
        self.ready = ready
        status = health_pb2.HealthCheckResponse.SERVING if ready else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in self.names:
            self.health_servicer.set(name, status)
        return ready

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.check_once()
            stop.wait(self.interval if self.ready else min(self.interval, 1.0))
