"""Prometheus metrics shared by every process, and the /metrics endpoint."""
from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client import multiprocess

GRPC_HANDLED = Counter(
    "grpc_server_handled_total",
    "RPCs completed on the server, by status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
GRPC_HANDLING_SECONDS = Histogram(
    "grpc_server_handling_seconds",
    "Time the server spent handling an RPC.",
    ["grpc_service", "grpc_method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_PUBLISHED = Counter("events_published_total", "Events the outbox relay published with a broker confirm.", ["routing_key"])
EVENTS_CONSUMED = Counter(
    "events_consumed_total",
    "Events a consumer finished with, by outcome (handled, duplicate, retried, dead_lettered).",
    ["consumer", "routing_key", "outcome"],
)
OUTBOX_BACKLOG = Gauge("outbox_backlog", "Outbox rows not yet published, as last seen by the relay.")


def start_metrics_server(port: int | None) -> None:
    """Serve /metrics on `port` (None: no endpoint, e.g. in unit tests)."""
    if port is None:
        return
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        start_http_server(port, registry=registry)
    else:
        start_http_server(port)
