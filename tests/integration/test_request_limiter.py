"""Identity's shared request counter (one upsert statement) on PostgreSQL and on SQLite, the
embedded default: a fixed window per key, refusals with the seconds left, a new window after the
old one ends, parallel first requests counted once each."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from platform_kit.db import Database
from platform_kit.errors import RateLimited
from platform_kit.migrations import upgrade
from services.identity.throttle import RequestLimiter

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "identity" / "migrations"


@pytest.fixture(params=["postgresql", "sqlite"])
def limiter(request, postgres_databases, tmp_path):
    database = Database(postgres_databases("identity") if request.param == "postgresql" else f"sqlite:///{tmp_path / 'identity.db'}")
    upgrade(database, MIGRATIONS)
    yield RequestLimiter(database)
    database.dispose()


def test_a_key_is_refused_past_its_limit_until_the_window_ends(limiter):
    window = timedelta(seconds=2)
    assert [limiter.count("messages:user:a", 3, window) for _ in range(3)] == [2, 1, 0]
    with pytest.raises(RateLimited) as refused:
        limiter.count("messages:user:a", 3, window)
    assert 1 <= refused.value.retry_after <= 2
    assert limiter.count("messages:user:b", 3, window) == 2  # another key is not affected
    time.sleep(2.1)
    assert limiter.count("messages:user:a", 3, window) == 2  # a new window


def test_parallel_requests_are_each_counted_once(limiter):
    def one(_):
        try:
            limiter.count("activation:address:10.0.0.1", 10, timedelta(hours=1))
            return "ok"
        except RateLimited:
            return "refused"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(one, range(30)))
    assert outcomes.count("ok") == 10 and outcomes.count("refused") == 20
