"""The read scenario's baseline: a WSGI app answering every request with one constant JSON body
(a real grades page captured from the gateway, with its Content-Encoding, so the bytes on the wire
are the same), run by the
same gunicorn with gateway/gunicorn.conf.py and the same worker and thread count. What the
gateway achieves divided by what this achieves is the share of the machine's HTTP capacity the
register's own work leaves."""
from __future__ import annotations

import os

_BODY = open(os.environ["BENCH_BASELINE_BODY"], "rb").read() if os.environ.get("BENCH_BASELINE_BODY") else b'{"status": "ok"}'
_HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(_BODY))), ("Cache-Control", "no-store")]
if os.environ.get("BENCH_BASELINE_ENCODING"):  # the page as the gateway sent it: gzip-compressed
    _HEADERS += [("Content-Encoding", os.environ["BENCH_BASELINE_ENCODING"]), ("Vary", "Accept-Encoding")]


def app(environ, start_response):
    start_response("200 OK", list(_HEADERS))
    return [_BODY]
