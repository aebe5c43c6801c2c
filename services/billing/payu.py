"""The PayU REST API 2.1 adapter: OAuth client-credentials (token cached until it expires) and
order creation (the normal answer is a 302 with a JSON body, which is read, not followed)."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from platform_kit.errors import Unavailable

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CreatedOrder:
    payu_order_id: str
    redirect_uri: str


class PayU:
    def __init__(self, base_url: str, pos_id: str, client_id: str, client_secret: str, *, timeout: float = 10.0, attempts: int = 6) -> None:
        self.base_url = base_url.rstrip("/")
        self.pos_id = pos_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.timeout = timeout
        self.attempts = attempts
        self._token: tuple[str, float] | None = None
        self._lock = threading.Lock()

    @cached_property
    def _http(self) -> requests.Session:
        import requests  # imported here: requests (~5 MB) only once billing calls PayU

        return requests.Session()

    def _access_token(self, *, fresh: bool = False) -> str:
        with self._lock:
            if fresh or self._token is None or self._token[1] <= time.monotonic():
                answer = self._send(
                    "POST",
                    "/pl/standard/user/oauth/authorize",
                    data={"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret},
                )
                if answer.status_code != 200:
                    raise Unavailable(f"PayU refused the credentials ({answer.status_code})")
                body = answer.json()
                # Renew a minute early: a token must not expire between our check and PayU's.
                self._token = (body["access_token"], time.monotonic() + max(60, int(body.get("expires_in", 0)) - 60))
            return self._token[0]

    def create_order(
        self, *, ext_order_id: str, description: str, amount: int, notify_url: str, continue_url: str, customer_ip: str, buyer: dict, products: list[dict]
    ) -> CreatedOrder:
        payload = {
            "notifyUrl": notify_url,
            "continueUrl": continue_url,
            "customerIp": customer_ip or "127.0.0.1",
            "merchantPosId": self.pos_id,
            "description": description,
            "currencyCode": "PLN",
            "totalAmount": str(amount),
            "extOrderId": ext_order_id,
            "buyer": buyer,
            "products": products,
        }
        for fresh in (False, True):
            answer = self._send("POST", "/api/v2_1/orders", json=payload, headers={"Authorization": f"Bearer {self._access_token(fresh=fresh)}"})
            if answer.status_code != 401:  # an expired or revoked token: once more with a new one
                break
        if answer.status_code not in (200, 201, 302):
            raise Unavailable(f"PayU did not create the order ({answer.status_code}: {answer.text[:200]})")
        body = answer.json()
        if body.get("status", {}).get("statusCode") != "SUCCESS":
            raise Unavailable(f"PayU answered {body.get('status')}")
        return CreatedOrder(body["orderId"], body["redirectUri"])

    def _send(self, method: str, path: str, **kwargs) -> requests.Response:
        """One call, repeated with back-off while PayU answers 429 (overloaded) or cannot be reached."""
        import requests  # imported here: see _http

        delay = 0.5
        for attempt in range(1, self.attempts + 1):
            try:
                answer = self._http.request(method, f"{self.base_url}{path}", timeout=self.timeout, allow_redirects=False, **kwargs)
            except requests.RequestException as exc:
                if attempt == self.attempts:
                    raise Unavailable(f"PayU cannot be reached: {exc}") from None
            else:
                if answer.status_code != 429 or attempt == self.attempts:
                    return answer
                delay = float(answer.headers.get("Retry-After", delay)) if answer.headers.get("Retry-After", "").isdigit() else delay
            log.warning("PayU %s %s: try %d failed, again in %.1fs", method, path, attempt, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5)
        raise Unavailable("PayU is overloaded")

    def refund(self, payu_order_id: str, *, amount: int, description: str) -> str:
        """Ask PayU to give the money of a completed order back; returns PayU's refund id."""
        answer = self._send(
            "POST",
            f"/api/v2_1/orders/{payu_order_id}/refunds",
            json={"refund": {"description": description[:100] or "Zwrot", "amount": str(amount)}},
            headers={"Authorization": f"Bearer {self._access_token()}"},
        )
        if answer.status_code != 200 or answer.json().get("status", {}).get("statusCode") != "SUCCESS":
            raise Unavailable(f"PayU did not accept the refund ({answer.status_code}: {answer.text[:200]})")
        return answer.json().get("refund", {}).get("refundId", "")
