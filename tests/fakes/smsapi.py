"""A local SMSAPI.pl (`POST /sms.do`) that answers as the real one does: Bearer token, `idx` with
`check_idx` refusing a repeat (error 105), errors sent with HTTP 200 (13: no correct phone number),
an outage switch answering 5xx or 429, and HTTP/1.1 keep-alive (a client sends many SMS over one
connection, as it does to SMSAPI's servers). Tests read what it accepted."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


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

    def answer(self, authorization: str | None, form: dict[str, str]) -> tuple[int, dict | str]:
        """What SMSAPI answers a `POST /sms.do` with this Authorization header and form."""
        with self._lock:
            self.requests += 1
            if authorization != f"Bearer {self.token}":
                return 401, {"error": 101, "message": "Authorization failed"}
            if self.outage:
                return self.outage, "Internal error"
            number = form.get("to", "")
            if not number.isdigit() or len(number) < 9 or number in self.refused_numbers:
                return 200, {"error": 13, "message": "No correct phone numbers"}  # an error with HTTP 200
            if form.get("check_idx") == "1" and form.get("idx") in self.seen_idx:
                return 200, {"error": 105, "message": "Invalid idx"}
            self.seen_idx.add(form.get("idx"))
            self.accepted.append(form)
            entry = {"id": f"smsapi-{len(self.accepted)}", "points": 0.16, "number": number, "status": "QUEUE", "idx": form.get("idx"), "parts": 1}
            return 201, {"count": 1, "list": [entry]}

    def start(self) -> "FakeSmsApi":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like SMSAPI's servers
            # TCP_NODELAY, as web servers set it: with Nagle's algorithm the body, written after
            # the headers, waited for the client's delayed ACK (40 ms per SMS).
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if urlsplit(self.path).path != "/sms.do":  # absolute-form too (RFC 9112), as through a proxy
                    return self._send(404, "Not Found")
                form = {key: values[0] for key, values in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
                self._send(*fake.answer(self.headers.get("Authorization"), form))

            def _send(self, status: int, payload: dict | str) -> None:
                data = (json.dumps(payload) if isinstance(payload, dict) else payload).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if isinstance(payload, dict) else "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
                pass  # no line per SMS on the tests' or the bench's output

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def to(self, phone: str) -> list[dict]:
        """What was accepted for an E.164 number."""
        with self._lock:
            return [m for m in self.accepted if m["to"] == phone.lstrip("+")]
