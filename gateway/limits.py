"""Rate limits on the endpoints people (or scripts in their name) could abuse: one table, counted
in identity so every gateway replica shares the count. Past a limit the answer is 429 with
Retry-After (identity's RESOURCE_EXHAUSTED, turned into a problem by gateway/problems.py).
Failed sign-ins have their own, finer throttle in identity (per account and address).

When identity cannot count (it is away), the request goes on uncounted, visibly (a metric and a
warning): a rate limit must not turn an outage of one service into an outage of every endpoint."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import grpc
from flask import Flask, current_app, g, request
from prometheus_client import Counter

from dziennik.identity.v1 import identity_pb2 as pb
from gateway.settings import GatewaySettings
from platform_kit.auth import service_metadata

API = "/api/v1"
COUNT_TIMEOUT_SECONDS = 1.0
UNCOUNTED = Counter("rate_limit_uncounted_total", "Requests let through uncounted because identity could not count them.", ["limit"])

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    name: str
    per: str  # "user" (the signed-in account) or "address" (the client's address)
    requests: int
    window_seconds: int


def limits(settings: GatewaySettings) -> dict[tuple[str, str], tuple[Limit, ...]]:
    """(method, route) -> the limits a request there counts against."""
    hour, ten_minutes = 3600, 600
    return {
        # Sign-ins per address are counted by identity's Login itself (IDENTITY_SIGN_INS_PER_ADDRESS,
        # services/identity/sessions.py): one RPC less per sign-in at 8:00. Never per account
        # alone: that would let anyone lock a parent out of their account.
        ("POST", f"{API}/auth/mfa"): (Limit("mfa", "address", 100, ten_minutes),),
        # Guessing activation codes; a school's computer lab may activate a class from one address.
        ("POST", f"{API}/auth/activate"): (Limit("activation", "address", 60, hour),),
        ("POST", f"{API}/messages"): (Limit("messages", "user", settings.messages_per_hour, hour), Limit("messages", "address", 10 * settings.messages_per_hour, hour)),
        # Exports read everything about a class or a student: heavy, and what a stolen account would take.
        ("GET", f"{API}/students/<student_id>/export"): (Limit("exports", "user", 30, hour),),
        ("GET", f"{API}/classes/<class_id>/register.xml"): (Limit("exports", "user", 30, hour),),
    }


def init_app(app: Flask, settings: GatewaySettings) -> None:
    table = limits(settings)
    app.extensions["limits"] = table

    @app.before_request
    def _count():
        rule = request.url_rule.rule if request.url_rule else None
        for limit in table.get((request.method, rule), ()) if rule else ():
            principal = getattr(g.get("caller"), "principal", None)
            who = principal.user_id if limit.per == "user" and principal is not None else request.remote_addr if limit.per == "address" else None
            if not who:
                continue
            try:
                current_app.extensions["backends"].identity.CountRequest(
                    pb.CountRequestRequest(key=f"{limit.name}:{limit.per}:{who}", limit=limit.requests, window_seconds=limit.window_seconds),
                    metadata=service_metadata(settings.service_token), timeout=COUNT_TIMEOUT_SECONDS, wait_for_ready=False,
                )
            except grpc.RpcError as error:
                if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    raise  # over the limit: 429 with Retry-After
                UNCOUNTED.labels(limit.name).inc()
                log.warning("rate limit %s not counted (identity: %s); request let through", limit.name, error.code())
