"""The gateway's configuration (names in ARCHITECTURE.md)."""
from __future__ import annotations

import re

from platform_kit.config import CommonSettings, setting, settings

_ORIGIN = re.compile(r"^https?://(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$")


def _origins(value: str) -> str:
    origins = [part.strip().rstrip("/").lower() for part in value.split(",") if part.strip()]
    for origin in origins:
        if not _ORIGIN.match(origin):
            raise ValueError(f"each origin is scheme://host[:port] without a path or wildcard, e.g. https://dziennik.example.pl (got {origin!r})")
    return ",".join(origins)


@settings()
class GatewaySettings(CommonSettings):
    port: int = setting(8080, "GATEWAY_PORT", ge=1, le=65535)
    workers: int = setting(2, "GATEWAY_WORKERS", ge=1, le=64)
    threads: int = setting(8, "GATEWAY_THREADS", ge=1, le=256)
    public_url: str = setting("http://localhost:8080", "DZIENNIK_PUBLIC_URL", pattern=r"^https?://")
    trusted_proxies: int = setting(0, "GATEWAY_TRUSTED_PROXIES", ge=0, le=5)
    readiness_timeout_seconds: float = setting(1.0, "GATEWAY_READINESS_TIMEOUT", gt=0, le=10)
    # Messages one account may send per hour (ten times as many per client address); gateway/limits.py.
    messages_per_hour: int = setting(60, "GATEWAY_MESSAGES_PER_HOUR", ge=1, le=10_000)
    # Front ends on other origins that may call the API from a browser, comma-separated
    # (`https://app.example.pl,https://admin.example.pl`); empty: same origin only.
    cors_origins: str = setting("", "GATEWAY_CORS_ORIGINS", check=_origins)
    # How long identity's "yes" to "may this caller see this student's <feature>?" is kept per
    # worker (0: ask every time). Refusals are never kept: a payment counts at once, while a
    # revoked link or an expired access is honoured within this many seconds (platform_kit/cache.py).
    access_cache_seconds: float = setting(10.0, "GATEWAY_ACCESS_CACHE_SECONDS", ge=0, le=300)
    # ... and how long while the worker follows identity's PeopleChanged events, which drop the
    # copies about whoever changed (0: do not follow; never past the school day it was made on).
    access_cache_followed_seconds: float = setting(600.0, "GATEWAY_ACCESS_CACHE_FOLLOWED_SECONDS", ge=0, le=3600)
    # Students' grades pages kept per worker for the student and their parents, only while it
    # follows gradebook's PagesChanged and identity's PeopleChanged events (gateway/page_copies.py):
    # a budget of compressed page bytes (0: keep none) and the longest a copy is used.
    page_copies_mb: float = setting(16.0, "GATEWAY_PAGE_COPIES_MB", ge=0, le=1024)
    page_copy_seconds: float = setting(120.0, "GATEWAY_PAGE_COPY_SECONDS", gt=0, le=3600)

    @property
    def cors_origin_set(self) -> frozenset[str]:
        return frozenset(filter(None, self.cors_origins.split(",")))
