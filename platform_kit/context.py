"""Per-request context that follows work across threads' boundaries we control:
the correlation id (from the gateway's X-Request-Id, through gRPC metadata and event headers)."""
from __future__ import annotations

import contextvars
import uuid

CORRELATION_HEADER = "x-request-id"  # gRPC metadata key, AMQP header and HTTP header (case-insensitive)

_correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)


def correlation_id() -> str | None:
    return _correlation_id.get()


def set_correlation_id(value: str | None) -> contextvars.Token:
    return _correlation_id.set(value)


def reset_correlation_id(token: contextvars.Token) -> None:
    _correlation_id.reset(token)


def new_correlation_id() -> str:
    return uuid.uuid4().hex
