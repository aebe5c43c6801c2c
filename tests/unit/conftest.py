"""Shared fixtures of the unit suite: no network, no PostgreSQL, no RabbitMQ."""
from __future__ import annotations

import os

import pytest

from platform_kit.config import DEFAULT_GRPC_PORTS

# Variables a developer's shell (or `make run`) may export that would change what settings read.
_PREFIXES = ("DZIENNIK_", "GATEWAY_", "PROMETHEUS_MULTIPROC_DIR") + tuple(f"{s.upper()}_" for s in DEFAULT_GRPC_PORTS)
_NAMES = {"AMQP_URL", "METRICS_PORT", "LOG_LEVEL"}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Every test starts from the defaults, whatever the shell exported."""
    for name in list(os.environ):
        if name in _NAMES or name.startswith(_PREFIXES):
            monkeypatch.delenv(name, raising=False)
