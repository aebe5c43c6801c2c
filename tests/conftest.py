"""Fixtures for tests that need the real PostgreSQL and RabbitMQ on this machine.

Each test gets its own PostgreSQL databases and its own RabbitMQ vhost, removed afterwards, so
tests never collide with each other or with a running `make run`.
"""
from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
RABBITMQ_HOST = os.environ.get("TEST_RABBITMQ_HOST", "127.0.0.1:5672")


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


def create_database(label: str) -> str:
    """An empty PostgreSQL database of its own; returns its URL."""
    name = f"dz_{label}_{uuid.uuid4().hex[:10]}"
    with _admin_engine().connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with _admin_engine().connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def create_vhost() -> str:
    """A fresh RabbitMQ vhost of its own; returns the AMQP URL for it."""
    vhost = f"dz_test_{uuid.uuid4().hex[:10]}"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    return f"amqp://guest:guest@{RABBITMQ_HOST}/{vhost}"


def delete_vhost(amqp_url: str) -> None:
    rabbitmqctl("delete_vhost", amqp_url.rsplit("/", 1)[1])


_ENGINE = None


def _admin_engine():
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    return _ENGINE


@pytest.fixture
def postgres_databases() -> Iterator[Callable[[str], str]]:
    """A factory: `make("identity")` creates an empty database and returns its URL."""
    created: list[str] = []

    def make(label: str) -> str:
        created.append(create_database(label))
        return created[-1]

    yield make
    for url in created:
        drop_database(url)


@pytest.fixture
def amqp_url() -> Iterator[str]:
    """An AMQP URL pointing at a fresh vhost of its own."""
    url = create_vhost()
    yield url
    delete_vhost(url)


def wait_for(condition: Callable[[], object], timeout: float, interval: float = 0.1, message: str = "condition") -> object:
    """Poll `condition` until it returns something truthy; fail the test after `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {message}")
        time.sleep(interval)
