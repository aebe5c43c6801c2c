"""The rate-limit table names routes the gateway really serves (a typo would silently limit nothing)."""
from __future__ import annotations

from gateway.app import create_app
from gateway.limits import limits
from gateway.settings import GatewaySettings


def test_every_limited_route_exists_and_counts_per_user_or_address():
    settings = GatewaySettings()
    app = create_app(settings)
    routes = {(method, rule.rule) for rule in app.url_map.iter_rules() for method in rule.methods}
    table = limits(settings)
    assert set(table) <= routes, sorted(set(table) - routes)
    assert all(limit.per in ("user", "address") and limit.requests > 0 and limit.window_seconds > 0 for rules in table.values() for limit in rules)
    assert ("POST", "/api/v1/messages") in table and ("POST", "/api/v1/auth/activate") in table


def test_when_identity_cannot_count_the_request_goes_on_uncounted_and_it_shows(monkeypatch):
    from platform_kit.config import DEFAULT_GRPC_PORTS
    from gateway.limits import UNCOUNTED

    for service in DEFAULT_GRPC_PORTS:
        monkeypatch.setenv(f"{service.upper()}_GRPC_PORT", "1")  # refuses at once
    monkeypatch.setenv("DZIENNIK_GRPC_DEADLINE", "0.5")
    before = UNCOUNTED.labels("activation")._value.get()
    answer = create_app().test_client().post("/api/v1/auth/activate", json={"activation_code": "", "password": ""})
    assert answer.status_code == 400  # the request's own problem, not the limiter's
    assert UNCOUNTED.labels("activation")._value.get() == before + 1
