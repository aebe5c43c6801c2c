"""Throttling of failed sign-ins (OWASP Authentication Cheat Sheet).

Failures are counted per account *and address* and per address alone, never per account alone:
an attacker trying one account from many addresses is slowed at each address, and nobody can
lock a victim out of their account from somewhere else. After the free failures each further
one doubles the wait, up to 15 minutes; counts are forgotten after an hour without failures.
"""
from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy import bindparam, case, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from platform_kit.db import Database, upsert_insert
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


_THROTTLES = LoginThrottle.__table__
# Built once: a sign-in asks these on every attempt (SQLAlchemy's cache key of a statement built
# per call costs more than the statement itself).
_STANDING = select(_THROTTLES.c.key, _THROTTLES.c.blocked_until).where(_THROTTLES.c.key.in_(bindparam("keys", expanding=True)))
_CLEAR = delete(_THROTTLES).where(_THROTTLES.c.key == bindparam("cleared_key"))


class LoginThrottler:
    def __init__(self, database: Database) -> None:
        self.database = database

    def check(self, login: str, address: str) -> None:
        """RateLimited while either key is waiting out its block."""
        with self.database.reading() as session:
            self.standing(session, login, address)

    def standing(self, session: Session, login: str, address: str) -> bool:
        """In the caller's session (a sign-in reads the account in the same one): RateLimited while
        either key waits out its block, with the longer wait; else whether the account has failures
        from this address on record, which a successful sign-in clears (`cleared`)."""
        keys = [key for key, _ in _keys(login, address)]
        rows = session.execute(_STANDING, {"keys": keys}).all()
        moment = now()
        waits = [(aware(row.blocked_until) - moment).total_seconds() for row in rows if row.blocked_until is not None and aware(row.blocked_until) > moment]
        if waits:
            raise RateLimited("zbyt wiele nieudanych prób logowania, spróbuj później", retry_after=math.ceil(max(waits)))
        return any(row.key == keys[0] for row in rows)

    def cleared(self, session: Session, login: str, address: str) -> None:
        """A successful sign-in forgets the account's failures from this address (the address's own
        count stays: many accounts guessed from one address are still throttled)."""
        session.execute(_CLEAR, {"cleared_key": _keys(login, address)[0][0]})

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
            self.cleared(session, login, address)


_COUNTERS = RequestCounter.__table__


class RequestLimiter:
    """A fixed-window count per key, in the database so every gateway replica shares it."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._count = _count_statement(database)

    def count(self, key: str, limit: int, window: timedelta) -> int:
        """Count one request; RateLimited (with the seconds until the window ends) past `limit`.
        Returns how many requests remain in this window.

        One statement (an upsert that starts a new window when the old one ended), atomic in both
        databases, so parallel requests are each counted once without a lock held between round
        trips. Refused requests count too: past the limit the count only grows until the window ends."""
        moment = now()
        with self.database.autocommitting() as session:
            row = session.execute(self._count, {"counter_key": key, "moment": moment, "window_ended": moment - window}).one()
        if row.hits > limit:
            wait = (aware(row.window_start) + window - moment).total_seconds()
            raise RateLimited("zbyt wiele żądań, spróbuj później", retry_after=max(1, math.ceil(wait)))
        return limit - row.hits


def _count_statement(database: Database):
    """INSERT the key's first hit, or count one more in its window, or start a new window."""
    statement = upsert_insert(database, _COUNTERS).values(key=bindparam("counter_key"), window_start=bindparam("moment"), hits=1)
    ended = _COUNTERS.c.window_start <= bindparam("window_ended", type_=_COUNTERS.c.window_start.type)
    return statement.on_conflict_do_update(
        index_elements=[_COUNTERS.c.key],
        set_={
            "hits": case((ended, 1), else_=_COUNTERS.c.hits + 1),
            "window_start": case((ended, statement.excluded.window_start), else_=_COUNTERS.c.window_start),
        },
    ).returning(_COUNTERS.c.hits, _COUNTERS.c.window_start)
