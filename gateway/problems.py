"""RFC 9457 problem details: the one table from error codes to HTTP statuses and titles, and
the one table from gRPC status codes to error codes."""
from __future__ import annotations

import json

import grpc
from flask import Response, g, request

from platform_kit.grpc_names import ERROR_CODE_KEY, FIELD_ERRORS_KEY, RETRY_AFTER_KEY

# code → (HTTP status, Polish title, English title)
PROBLEMS: dict[str, tuple[int, str, str]] = {
    "validation_error": (400, "Niepoprawne dane", "Invalid input"),
    "weak_password": (400, "Hasło jest za słabe", "Password is too weak"),
    "invalid_credentials": (401, "Nieprawidłowy login lub hasło", "Invalid login or password"),
    "unauthenticated": (401, "Wymagane zalogowanie", "Authentication required"),
    "extended_access_required": (402, "Wymagany dostęp rozszerzony", "Extended access required"),
    "forbidden": (403, "Brak uprawnień", "Forbidden"),
    "mfa_enrollment_required": (403, "Wymagane drugie uwierzytelnienie", "Second factor enrolment required"),
    "not_found": (404, "Nie znaleziono", "Not found"),
    "method_not_allowed": (405, "Niedozwolona metoda", "Method not allowed"),
    "conflict": (409, "Konflikt", "Conflict"),
    "payload_too_large": (413, "Za duże żądanie", "Payload too large"),
    "unsupported_media_type": (415, "Nieobsługiwany typ danych", "Unsupported media type"),
    "rate_limited": (429, "Za dużo żądań", "Too many requests"),
    "internal_error": (500, "Błąd serwera", "Internal server error"),
    "unavailable": (503, "Usługa chwilowo niedostępna", "Service temporarily unavailable"),
}

# What a backend's gRPC status means when it does not name a code itself.
CODE_FOR_GRPC_STATUS: dict[grpc.StatusCode, str] = {
    grpc.StatusCode.INVALID_ARGUMENT: "validation_error",
    grpc.StatusCode.UNAUTHENTICATED: "unauthenticated",
    grpc.StatusCode.PERMISSION_DENIED: "forbidden",
    grpc.StatusCode.NOT_FOUND: "not_found",
    grpc.StatusCode.ALREADY_EXISTS: "conflict",
    grpc.StatusCode.ABORTED: "conflict",
    grpc.StatusCode.FAILED_PRECONDITION: "conflict",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "rate_limited",
    grpc.StatusCode.UNAVAILABLE: "unavailable",
    grpc.StatusCode.DEADLINE_EXCEEDED: "unavailable",
    # The gateway never cancels its own calls: CANCELLED means the backend was shutting down
    # when the call arrived (a rolling upgrade), so the client may simply try again.
    grpc.StatusCode.CANCELLED: "unavailable",
}

_STATUS_CODE = {status: code for code, (status, _, _) in PROBLEMS.items() if code not in ("weak_password", "invalid_credentials", "mfa_enrollment_required")}


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem-details body."""

    def __init__(self, code: str, detail: str | None = None, *, errors: dict[str, str] | None = None, headers: dict | None = None) -> None:
        super().__init__(detail or code)
        self.code = code if code in PROBLEMS else "internal_error"
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


def code_for_status(status: int) -> str:
    return _STATUS_CODE.get(status, "internal_error" if status >= 500 else "validation_error")


def from_rpc_error(error: grpc.RpcError) -> Problem:
    trailing = dict(error.trailing_metadata() or ()) if hasattr(error, "trailing_metadata") else {}
    code = trailing.get(ERROR_CODE_KEY) or CODE_FOR_GRPC_STATUS.get(error.code(), "internal_error")
    errors = json.loads(trailing[FIELD_ERRORS_KEY]) if FIELD_ERRORS_KEY in trailing else None
    # A backend's own words for domain errors; never its internals or addresses.
    detail = error.details() if code not in ("internal_error", "unavailable") else None
    headers = {"Retry-After": trailing[RETRY_AFTER_KEY]} if RETRY_AFTER_KEY in trailing else None
    return Problem(code, detail, errors=errors, headers=headers)


def english_requested() -> bool:
    return request.accept_languages.best_match(["pl", "en"], default="pl") == "en"


def response_for(problem: Problem) -> Response:
    status, title_pl, title_en = PROBLEMS[problem.code]
    body = {
        "type": f"/problems/{problem.code}",
        "title": title_en if english_requested() else title_pl,
        "status": status,
        "detail": problem.detail or (title_en if english_requested() else title_pl),
        "code": problem.code,
        "request_id": getattr(g, "request_id", None),
    }
    if problem.errors:
        body["errors"] = problem.errors
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/problem+json")
    for name, value in problem.headers.items():
        response.headers[name] = value
    return response
