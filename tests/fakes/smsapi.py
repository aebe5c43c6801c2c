"""A local SMSAPI.pl (`POST /sms.do`) that answers as the real one does: Bearer token, `idx` with
`check_idx` refusing a repeat (error 105), errors sent with HTTP 200 (13: no correct phone number),
and an outage switch answering 5xx or 429. Tests read what it accepted."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from flask import Flask, request
from werkzeug.serving import make_server


@dataclass
class FakeSmsApi:
    token: str = "token-1"
    outage: int | None = None  # answer every request with this status (500, 503, 429)
    refused_numbers: set[str] = field(default_factory=set)  # numbers answered with error 13
    accepted: list[dict] = field(default_factory=list)
    seen_idx: set[str] = field(default_factory=set)
    requests: int = 0
    url: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = None

    def app(self) -> Flask:
        app = Flask("fake-smsapi")

        @app.post("/sms.do")
        def sms_do():
            with self._lock:
                self.requests += 1
                if request.headers.get("Authorization") != f"Bearer {self.token}":
                    return {"error": 101, "message": "Authorization failed"}, 401
                if self.outage:
                    return "Internal error", self.outage
                form = request.form.to_dict()
                number = form.get("to", "")
                if not number.isdigit() or len(number) < 9 or number in self.refused_numbers:
                    return {"error": 13, "message": "No correct phone numbers"}, 200  # an error with HTTP 200
                if form.get("check_idx") == "1" and form.get("idx") in self.seen_idx:
                    return {"error": 105, "message": "Invalid idx"}, 200
                self.seen_idx.add(form.get("idx"))
                self.accepted.append(form)
                entry = {"id": f"smsapi-{len(self.accepted)}", "points": 0.16, "number": number, "status": "QUEUE", "idx": form.get("idx"), "parts": 1}
                return {"count": 1, "list": [entry]}, 201

        return app

    def start(self) -> "FakeSmsApi":
        self._server = make_server("127.0.0.1", 0, self.app(), threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()

    def to(self, phone: str) -> list[dict]:
        """What was accepted for an E.164 number."""
        with self._lock:
            return [m for m in self.accepted if m["to"] == phone.lstrip("+")]
