"""The local SMSAPI of the tests (tests/fakes/smsapi.py) as a process of its own, writing one line
per accepted SMS with the wall-clock time it was handed over: `time<TAB>to<TAB>message`.

A process of its own so that serving notify does not take CPU from the load generator's event
loop (both would share one GIL otherwise)."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

from tests.fakes.smsapi import FakeSmsApi


class _LoggedList(list):
    """The fake's list of accepted SMS, also written to a file as each one arrives."""

    def __init__(self, out) -> None:
        super().__init__()
        self.out = out

    def append(self, form: dict) -> None:  # called under the fake's lock
        self.out.write(f"{time.time():.6f}\t{form.get('to', '')}\t{form.get('message', '').replace(chr(10), ' ')}\n")
        self.out.flush()
        if len(self) < 1000:  # the fake keeps a few for its own checks; the file is the record
            super().append(form)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--token", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--port-file", required=True)
    args = parser.parse_args()
    with open(args.log, "a", encoding="utf-8") as out:
        fake = FakeSmsApi(token=args.token)
        fake.accepted = _LoggedList(out)
        fake.start()
        with open(args.port_file, "w") as port_file:
            port_file.write(fake.url)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        stop.wait()
        fake.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
