"""SMS providers behind one interface. `idx` is our id for the SMS: providers that know it
(SMSAPI's idx + check_idx, the fake) refuse to send the same idx twice, so a resend after a
crash cannot reach the parent twice."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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
