"""The gateway's configuration (names in ARCHITECTURE.md)."""
from __future__ import annotations

import re

from pydantic import Field, field_validator

from platform_kit.config import CommonSettings

_ORIGIN = re.compile(r"^https?://(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$")


class GatewaySettings(CommonSettings):
    port: int = Field(8080, ge=1, le=65535, validation_alias="GATEWAY_PORT")
    workers: int = Field(2, ge=1, le=64, validation_alias="GATEWAY_WORKERS")
    threads: int = Field(8, ge=1, le=256, validation_alias="GATEWAY_THREADS")
    public_url: str = Field("http://localhost:8080", validation_alias="DZIENNIK_PUBLIC_URL", pattern=r"^https?://")
    trusted_proxies: int = Field(0, ge=0, le=5, validation_alias="GATEWAY_TRUSTED_PROXIES")
    readiness_timeout_seconds: float = Field(1.0, gt=0, le=10, validation_alias="GATEWAY_READINESS_TIMEOUT")
    # Messages one account may send per hour (ten times as many per client address); gateway/limits.py.
    messages_per_hour: int = Field(60, ge=1, le=10_000, validation_alias="GATEWAY_MESSAGES_PER_HOUR")
    # Front ends on other origins that may call the API from a browser, comma-separated
    # (`https://app.example.pl,https://admin.example.pl`); empty: same origin only.
    cors_origins: str = Field("", validation_alias="GATEWAY_CORS_ORIGINS")
    # How long identity's "yes" to "may this caller see this student's <feature>?" is kept per
    # worker (0: ask every time). Refusals are never kept: a payment counts at once, while a
    # revoked link or an expired access is honoured within this many seconds (platform_kit/cache.py).
    access_cache_seconds: float = Field(10.0, ge=0, le=300, validation_alias="GATEWAY_ACCESS_CACHE_SECONDS")

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        origins = [part.strip().rstrip("/").lower() for part in value.split(",") if part.strip()]
        for origin in origins:
            if not _ORIGIN.match(origin):
                raise ValueError(f"each origin is scheme://host[:port] without a path or wildcard, e.g. https://dziennik.example.pl (got {origin!r})")
        return ",".join(origins)

    @property
    def cors_origin_set(self) -> frozenset[str]:
        return frozenset(filter(None, self.cors_origins.split(",")))
