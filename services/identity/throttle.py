"""Throttling of failed sign-ins (OWASP Authentication Cheat Sheet).

Failures are counted per account *and address* and per address alone, never per account alone:
an attacker trying one account from many addresses is slowed at each address, and nobody can
lock a victim out of their account from somewhere else. After the free failures each further
one doubles the wait, up to 15 minutes; counts are forgotten after an hour without failures.
"""
from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from platform_kit.db import Database
from platform_kit.errors import RateLimited
from services.identity.common import aware, now
from services.identity.orm import LoginThrottle, RequestCounter

FREE_FAILURES_PER_ACCOUNT_AND_ADDRESS = 5
FREE_FAILURES_PER_ADDRESS = 50
FORGET_AFTER = timedelta(hours=1)
LONGEST_WAIT = timedelta(minutes=15)


def _keys(login: str, address: str) -> list[tuple[str, int]]:
    return [
        (f"account+address:{login}|{address}", FREE_FAILURES_PER_ACCOUNT_AND_ADDRESS),
        (f"address:{address}", FREE_FAILURES_PER_ADDRESS),
    ]


class LoginThrottler:
    def __init__(self, database: Database) -> None:
        self.database = database

    def check(self, login: str, address: str) -> None:
        """RateLimited while either key is waiting out its block."""
        moment = now()
        with self.database.transaction() as session:
            for key, _ in _keys(login, address):
                row = session.get(LoginThrottle, key)
                if row is not None and row.blocked_until is not None and aware(row.blocked_until) > moment:
                    wait = (aware(row.blocked_until) - moment).total_seconds()
                    raise RateLimited("zbyt wiele nieudanych prób logowania, spróbuj później", retry_after=math.ceil(wait))

    def failed(self, login: str, address: str) -> None:
        for _ in range(2):  # a parallel first failure may insert the same key: count again
            try:
                self._count_failure(login, address)
                return
            except IntegrityError:
                continue

    def _count_failure(self, login: str, address: str) -> None:
        moment = now()
        with self.database.transaction() as session:
            for key, free in _keys(login, address):
                row = session.get(LoginThrottle, key, with_for_update=True)
                if row is None:
                    row = LoginThrottle(key=key, failures=0, last_failure_at=moment)
                    session.add(row)
                elif moment - aware(row.last_failure_at) > FORGET_AFTER:
                    row.failures = 0
                row.failures += 1
                row.last_failure_at = moment
                if row.failures > free:
                    wait = min(timedelta(seconds=2 ** (row.failures - free - 1)), LONGEST_WAIT)
                    row.blocked_until = moment + wait

    def succeeded(self, login: str, address: str) -> None:
        with self.database.transaction() as session:
            row = session.get(LoginThrottle, _keys(login, address)[0][0])
            if row is not None:
                session.delete(row)


class RequestLimiter:
    """A fixed-window count per key, in the database so every gateway replica shares it."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def count(self, key: str, limit: int, window: timedelta) -> int:
        """Count one request; RateLimited (with the seconds until the window ends) past `limit`.
        Returns how many requests remain in this window."""
        for _ in range(2):  # a parallel first request may insert the same key: count again
            try:
                return self._count(key, limit, window)
            except IntegrityError:
                continue
        return self._count(key, limit, window)

    def _count(self, key: str, limit: int, window: timedelta) -> int:
        moment = now()
        with self.database.transaction() as session:
            row = session.get(RequestCounter, key, with_for_update=True)
            if row is None:
                row = RequestCounter(key=key, window_start=moment, hits=0)
                session.add(row)
            elif aware(row.window_start) + window <= moment:
                row.window_start, row.hits = moment, 0
            if row.hits >= limit:
                wait = (aware(row.window_start) + window - moment).total_seconds()
                raise RateLimited("zbyt wiele żądań, spróbuj później", retry_after=max(1, math.ceil(wait)))
            row.hits += 1
            return limit - row.hits
