"""JSON logs on stderr, one object a line, carrying the service name and correlation id."""
from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from platform_kit.context import correlation_id


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.correlation_id = correlation_id()
        return True


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(correlation_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(_ContextFilter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # pika logs every failed reconnect attempt at ERROR with tracebacks; our relay and consumers
    # report the broker being away themselves, once per attempt, as a warning.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
