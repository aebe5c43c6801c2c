"""Typed errors raised by use cases and domain code in every service.

They carry no transport: the gRPC server interceptor turns them into status codes (one table in
platform_kit.grpc_server) and the gateway turns status codes into problem details (one table in
gateway.problems). `code` is the stable snake_case word front ends switch on.
"""
from __future__ import annotations


class DomainError(Exception):
    code = "error"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class InvalidArgument(DomainError):
    """Bad input; `field_errors` maps a field name to what is wrong with it."""

    code = "validation_error"

    def __init__(self, detail: str, *, field_errors: dict[str, str] | None = None, code: str | None = None) -> None:
        super().__init__(detail, code=code)
        self.field_errors = field_errors or {}


class Unauthenticated(DomainError):
    code = "unauthenticated"


class PermissionDenied(DomainError):
    code = "forbidden"


class NotFound(DomainError):
    """Also for objects that exist but the caller may not see."""

    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class ExtendedAccessRequired(DomainError):
    code = "extended_access_required"


class RateLimited(DomainError):
    """Too many attempts; the caller may try again after `retry_after` seconds."""

    code = "rate_limited"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = max(1, int(retry_after))


class Unavailable(DomainError):
    """A dependency (database, broker, another service) does not answer; worth retrying."""

    code = "unavailable"
