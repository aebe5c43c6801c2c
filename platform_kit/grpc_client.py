"""gRPC channels for calling other services: every call gets a deadline and the correlation id."""
from __future__ import annotations

import collections
import importlib
import json

import grpc

from platform_kit.context import CORRELATION_HEADER, correlation_id


class _CallDetails(
    collections.namedtuple("_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")),
    grpc.ClientCallDetails,
):
    pass


class _CallDefaults(grpc.UnaryUnaryClientInterceptor):
    def __init__(self, deadline_seconds: float) -> None:
        self.deadline_seconds = deadline_seconds

    def intercept_unary_unary(self, continuation, details, request):
        metadata = list(details.metadata or ())
        current = correlation_id()
        if current and not any(key == CORRELATION_HEADER for key, _ in metadata):
            metadata.append((CORRELATION_HEADER, current))
        timeout = details.timeout if details.timeout is not None else self.deadline_seconds
        # Wait (within the deadline) for a backend that is starting or reconnecting, instead of
        # failing at once while the channel is in its reconnect back-off.
        wait_for_ready = True if details.wait_for_ready is None else details.wait_for_ready
        return continuation(
            _CallDetails(details.method, timeout, metadata, details.credentials, wait_for_ready, details.compression),
            request,
        )


# Reads are safe to send again: a call cut off by a backend dying mid-request is retried (within
# the same deadline), while a write is never resent by the channel, so it is never applied twice.
READ_PREFIXES = ("Get", "List", "Check")
RETRY_POLICY = {"maxAttempts": 3, "initialBackoff": "0.1s", "maxBackoff": "1s", "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}


def read_methods(service: str) -> list[tuple[str, str]]:
    """(full service name, method) of every read of our `service` (dziennik.<service>.v1)."""
    module = importlib.import_module(f"dziennik.{service}.v1.{service}_pb2")
    return [(s.full_name, m.name) for s in module.DESCRIPTOR.services_by_name.values() for m in s.methods if m.name.startswith(READ_PREFIXES)]


def retry_config(service: str | None) -> str:
    """A gRPC service config retrying the service's reads on UNAVAILABLE; "" for none."""
    methods = read_methods(service) if service else []
    if not methods:
        return ""
    names = [{"service": full_name, "method": method} for full_name, method in methods]
    return json.dumps({"methodConfig": [{"name": names, "retryPolicy": RETRY_POLICY}]})


def open_channel(target: str, *, deadline_seconds: float = 5.0, service: str | None = None) -> grpc.Channel:
    """A channel to `target` whose calls always carry a deadline (`deadline_seconds` unless the
    caller sets a shorter or longer `timeout=`), wait for the backend within it, and carry the
    current correlation id. Naming the `service` (identity, gradebook, …) retries its reads."""
    config = retry_config(service)
    channel = grpc.insecure_channel(
        target,
        options=[("grpc.service_config", config)] * bool(config) + [
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 5_000),
            ("grpc.enable_retries", 1),
            # Reconnect quickly after a backend restarts (gRPC's default back-off grows to 120 s).
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 2_000),
            ("grpc.max_receive_message_length", 16 * 1024 * 1024),
            ("grpc.max_send_message_length", 16 * 1024 * 1024),
        ],
    )
    return grpc.intercept_channel(channel, _CallDefaults(deadline_seconds))
