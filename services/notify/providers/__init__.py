"""SMS providers behind one interface. `idx` is our id for the SMS: providers that know it
(SMSAPI's idx + check_idx, the fake) refuse to send the same idx twice, so a resend after a
crash cannot reach the parent twice."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit
from urllib.request import getproxies, proxy_bypass

import urllib3
from urllib3.exceptions import HTTPError


@dataclass(frozen=True)
class Sent:
    provider_message_id: str


class ProviderError(Exception):
    """The provider did not take the SMS. `retryable`: a 5xx, 429 or timeout (try again later);
    otherwise the request itself is wrong (a bad number, no credit) and trying again will not help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class SmsProvider(Protocol):
    name: str

    def send(self, *, idx: str, to: str, body: str, parts: int) -> Sent: ...


class Unreachable(Exception):
    """No answer from the provider: refused, reset, timed out, a TLS failure."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not."""
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class ProviderHttp:
    """Keep-alive HTTPS connections to one provider, shared by the sending threads (urllib3 is
    thread-safe; requests' ~5 MB and per-request work bought nothing here). What the environment
    says about the provider is read once: the proxy (HTTPS_PROXY/HTTP_PROXY, NO_PROXY) and the CA
    bundle (REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE, else the system's)."""

    def __init__(self, base_url: str, *, timeout: float = 10.0, connections: int = 16) -> None:
        ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None
        proxy = _proxy_for(base_url)
        # retries=False: a failed send is the dispatcher's to retry, with its back-off and its idx
        options = {"maxsize": connections, "timeout": urllib3.Timeout(total=timeout), "retries": False, "ca_certs": ca_bundle}
        self._pool = urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)

    def post_form(self, url: str, form: dict[str, str], headers: dict[str, str] | None = None) -> Answer:
        """POST `form` url-encoded; raises Unreachable when no answer came."""
        try:
            answer = self._pool.request(
                "POST", url, body=urlencode(form), headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
            )
        except (HTTPError, OSError) as exc:
            raise Unreachable(str(exc)) from None
        return Answer(answer.status, answer.data)


def _proxy_for(url: str) -> str | None:
    """The proxy the environment names for `url`, unless NO_PROXY exempts its host (as curl and
    requests read them)."""
    parts = urlsplit(url)
    proxy = getproxies().get(parts.scheme)
    if not proxy or proxy_bypass(parts.hostname or ""):
        return None
    return proxy
