"""Twilio (`POST /2010-04-01/Accounts/{sid}/Messages.json`, Basic auth). Status callbacks are
signed with X-Twilio-Signature: base64(HMAC-SHA1(auth token, URL + sorted parameters))."""
from __future__ import annotations

import base64
import hashlib
import hmac

from services.notify.providers import ProviderError, ProviderHttp, Sent, Unreachable


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    payload = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


def verify_twilio_signature(auth_token: str, url: str, params: dict[str, str], signature: str) -> bool:
    return hmac.compare_digest(twilio_signature(auth_token, url, params), signature or "")


class TwilioProvider:
    name = "twilio"

    def __init__(self, base_url: str, account_sid: str, auth_token: str, sender: str, status_callback: str, *, timeout: float = 10.0, connections: int = 16) -> None:
        self.base_url = base_url.rstrip("/")
        self.account_sid = account_sid
        self.sender = sender
        self.status_callback = status_callback
        self._http = ProviderHttp(self.base_url, timeout=timeout, connections=connections)
        self._auth = {"Authorization": "Basic " + base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()}

    def send(self, *, idx: str, to: str, body: str, parts: int) -> Sent:
        try:
            answer = self._http.post_form(
                f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json",
                {"To": to, "From": self.sender, "Body": body, "StatusCallback": self.status_callback},
                self._auth,
            )
        except Unreachable as exc:
            raise ProviderError(f"Twilio unreachable: {exc}", retryable=True) from None
        if answer.status == 429 or answer.status >= 500:
            raise ProviderError(f"Twilio answered {answer.status}", retryable=True)
        if answer.status != 201:
            try:
                detail = answer.json().get("message", "")
            except ValueError:
                detail = answer.text[:200]
            raise ProviderError(f"Twilio refused ({answer.status}): {detail}", retryable=False)
        return Sent(answer.json()["sid"])
