"""SMS providers behind one interface. `idx` is our id for the SMS: providers that know it
(SMSAPI's idx + check_idx, the fake) refuse to send the same idx twice, so a resend after a
crash cannot reach the parent twice."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import requests


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


def http_session(base_url: str) -> requests.Session:
    """A keep-alive HTTP session for one provider, with what the environment says about it (a
    proxy, a CA bundle) read once: with `trust_env` requests re-reads os.environ and ~/.netrc on
    every request, a third of the CPU time of a send (docs/performance.md)."""
    import requests  # imported here: requests (~5 MB) only where SMS are sent

    session = requests.Session()
    # requests' own reading of the environment (proxies with NO_PROXY, REQUESTS_CA_BUNDLE, …), once
    settings = session.merge_environment_settings(base_url, {}, None, None, None)
    session.proxies, session.verify = settings["proxies"], settings["verify"]
    session.trust_env = False
    return session
