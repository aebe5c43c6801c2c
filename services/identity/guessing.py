"""How many guesses a password would take — zxcvbn with the Polish dictionaries — worked out in a
helper process that lives only while passwords are being set.

zxcvbn's word lists are ~20 MB of Python objects once loaded. Passwords are set rarely (an account
activated, a password changed or reset), so a server that loaded them would carry them nearly all
the time for nothing. The helper (`python -m services.identity.guessing`) starts with the first
password checked (~0.1 s on a free core), answers every check while they keep coming, and exits
once none has come for `idle_seconds`. One helper per process, shared by every thread (the checks
take turns: ~20 ms each, zxcvbn's own time).

If the helper cannot be started or does not answer, the check is made in this process instead: a
person setting a password always gets an answer, at the price of the word lists staying here.

Protocol: one JSON object per line each way — `{"password": ..., "user_inputs": [...]}` in,
`{"guesses_log10": ...}` out; the helper exits when its standard input closes.
"""
from __future__ import annotations

import json
import logging
import os
import selectors
import subprocess
import sys
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]  # the directory `services` is in: the helper's cwd
COMMAND = (sys.executable, "-m", "services.identity.guessing")


@cache
def _zxcvbn():
    import zxcvbn_pl
    from zxcvbn import zxcvbn

    zxcvbn_pl.register()  # Polish words, first and last names and places, with inflected forms
    return zxcvbn


def estimate_here(password: str, user_inputs: Sequence[str]) -> float:
    """The estimate in this process (loads the word lists into it)."""
    return float(_zxcvbn()(password, user_inputs=list(user_inputs))["guesses_log10"])


class HelperFailed(Exception):
    pass


class GuessEstimator:
    """`guesses_log10(password, user_inputs)` from the helper process, started on demand."""

    def __init__(self, *, idle_seconds: float = 20.0, answer_seconds: float = 10.0, command: Sequence[str] = COMMAND) -> None:
        self.idle_seconds = idle_seconds
        self.answer_seconds = answer_seconds
        self.command = tuple(command)
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._idle_timer: threading.Timer | None = None
        self.helpers_started = 0  # how many helpers this estimator started (tests read it)

    def guesses_log10(self, password: str, user_inputs: Sequence[str] = ()) -> float:
        request = json.dumps({"password": password, "user_inputs": list(user_inputs)}).encode() + b"\n"
        with self._lock:
            self._cancel_idle_timer()
            try:
                for attempt in (1, 2):  # a helper that died since the last check is replaced once
                    try:
                        return self._ask(request)
                    except HelperFailed as exc:
                        self._stop_helper(gently=False)
                        if attempt == 2:
                            log.warning("password check helper failed (%s): checking in this process", exc)
            finally:
                self._start_idle_timer()
        return estimate_here(password, user_inputs)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def close(self) -> None:
        with self._lock:
            self._cancel_idle_timer()
            self._stop_helper()

    # -- the helper -------------------------------------------------------------------------

    def _ask(self, request: bytes) -> float:
        process = self._helper()
        try:
            process.stdin.write(request)
            process.stdin.flush()
        except OSError as exc:  # BrokenPipeError: it exited
            raise HelperFailed(f"could not write to it: {exc!r}") from exc
        line = self._read_line(process)
        try:
            return float(json.loads(line)["guesses_log10"])
        except (ValueError, KeyError, TypeError) as exc:
            raise HelperFailed(f"unreadable answer {line[:80]!r}") from exc

    def _helper(self) -> subprocess.Popen:
        if self.running:
            return self._process
        try:
            self._process = subprocess.Popen(
                self.command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0, close_fds=True,
            )
        except OSError as exc:
            raise HelperFailed(f"could not start it: {exc!r}") from exc
        self.helpers_started += 1
        log.info("password check helper started (pid %s)", self._process.pid)
        return self._process

    def _read_line(self, process: subprocess.Popen) -> bytes:
        """One line of its output, within `answer_seconds` (the helper writes one per request)."""
        received = b""
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while not received.endswith(b"\n"):
                if not selector.select(self.answer_seconds):
                    raise HelperFailed(f"no answer within {self.answer_seconds} s")
                chunk = os.read(process.stdout.fileno(), 65536)
                if not chunk:
                    raise HelperFailed(f"it exited (code {process.poll()})")
                received += chunk
        return received

    def _stop_helper(self, *, gently: bool = True) -> None:
        """Gently: its input closed, it ends its loop (killed if it has not within 2 s)."""
        process, self._process = self._process, None
        if process is None:
            return
        try:
            if not gently:
                process.kill()
            process.stdin.close()
            process.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        process.stdout.close()

    def _start_idle_timer(self) -> None:
        if self._process is None:
            return
        self._idle_timer = threading.Timer(self.idle_seconds, self._idle)
        self._idle_timer.daemon = True
        self._idle_timer.start()

    def _cancel_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def _idle(self) -> None:
        # A check may have begun meanwhile; it cancels this timer under the lock and starts its own.
        with self._lock:
            if self._idle_timer is threading.current_thread():
                self._idle_timer = None
                self._stop_helper()
                log.info("password check helper stopped after %s s without a check", self.idle_seconds)


def main() -> None:
    """The helper: answers each request line until its input closes."""
    for line in sys.stdin.buffer:
        request = json.loads(line)
        answer = {"guesses_log10": estimate_here(request["password"], request["user_inputs"])}
        sys.stdout.buffer.write(json.dumps(answer).encode() + b"\n")
        sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
