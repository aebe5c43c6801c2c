"""SMSAPI.pl (`POST /sms.do`, Bearer token). `idx` + `check_idx=1` make the provider refuse a
second SMS with the same id, so a resend after a crash never reaches the parent twice. SMSAPI
reports many errors with HTTP 200 and a JSON body `{"error": 13, "message": …}`."""
from __future__ import annotations

from services.notify.providers import ProviderError, ProviderHttp, Sent, Unreachable

DUPLICATE_IDX = 105  # "Invalid idx" — this idx was used: the SMS went out before
RETRYABLE_ERRORS = {8, 201, 999}  # provider-side errors worth another try


class SmsApiProvider:
    name = "smsapi"

    def __init__(self, base_url: str, token: str, sender: str, notify_url: str, *, timeout: float = 10.0, connections: int = 16) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.sender = sender
        self.notify_url = notify_url
        self._http = ProviderHttp(self.base_url, timeout=timeout, connections=connections)

    def send(self, *, idx: str, to: str, body: str, parts: int) -> Sent:
        form = {
            "to": to.lstrip("+"),
            "message": body,
            "from": self.sender,
            "encoding": "utf-8",
            "idx": idx.replace("-", "")[:36],
            "check_idx": "1",
            "notify_url": self.notify_url,
            "format": "json",
        }
        try:
            answer = self._http.post_form(f"{self.base_url}/sms.do", form, {"Authorization": f"Bearer {self.token}"})
        except Unreachable as exc:
            raise ProviderError(f"SMSAPI unreachable: {exc}", retryable=True) from None
        if answer.status == 429 or answer.status >= 500:
            raise ProviderError(f"SMSAPI answered {answer.status}", retryable=True)
        try:
            payload = answer.json()
        except ValueError:
            raise ProviderError(f"SMSAPI answered {answer.status} without JSON", retryable=answer.status >= 500) from None
        if "error" in payload:
            code = int(payload.get("error", 0))
            if code == DUPLICATE_IDX:
                return Sent(f"idx:{form['idx']}")
            raise ProviderError(f"SMSAPI error {code}: {payload.get('message', '')}", retryable=code in RETRYABLE_ERRORS)
        if answer.status >= 400 or not payload.get("list"):
            raise ProviderError(f"SMSAPI answered {answer.status}: {answer.text[:200]}", retryable=False)
        return Sent(str(payload["list"][0]["id"]))
