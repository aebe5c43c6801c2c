"""The audit trail's gateway half: one table of the requests that read or change a student's data,
and a recorder handing the entries to identity in batches, off the request's path (a request never
waits for the audit, and identity being slow never slows the register).

An entry is kept in memory until identity has it; a worker stopping flushes what it holds. What a
crash of a worker loses is at most its last flush interval of read entries: every change is also
in the data service's own history (who, when, old and new value)."""
from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from flask import Flask, Response, g, request
from prometheus_client import Counter

from dziennik.identity.v1 import identity_pb2 as pb

log = logging.getLogger(__name__)

API = "/api/v1"
# (method, route) -> (action, resource). One place: a new endpoint touching a student's data is
# added here, and tests/unit/test_audit.py fails for a student route that is missing.
AUDITED: dict[tuple[str, str], tuple[str, str]] = {
    ("GET", f"{API}/students/<student_id>/grades"): ("read", "grades"),
    ("GET", f"{API}/grades/<grade_id>/history"): ("read", "grades"),
    ("GET", f"{API}/classes/<class_id>/grade-statistics"): ("read", "grades"),
    ("POST", f"{API}/grades"): ("change", "grades"),
    ("POST", f"{API}/grades/batch"): ("change", "grades"),
    ("PATCH", f"{API}/grades/<grade_id>"): ("change", "grades"),
    ("DELETE", f"{API}/grades/<grade_id>"): ("change", "grades"),
    ("PUT", f"{API}/students/<student_id>/term-grades/<subject_id>"): ("change", "term_grades"),
    ("GET", f"{API}/students/<student_id>/attendance"): ("read", "attendance"),
    ("GET", f"{API}/students/<student_id>/attendance/summary"): ("read", "attendance"),
    ("GET", f"{API}/classes/<class_id>/attendance/summary"): ("read", "attendance"),
    ("GET", f"{API}/lessons/<lesson_id>/attendance"): ("read", "attendance"),
    ("PUT", f"{API}/lessons/<lesson_id>/attendance"): ("change", "attendance"),
    ("POST", f"{API}/students/<student_id>/excuses"): ("change", "excuses"),
    ("POST", f"{API}/excuses/<excuse_id>/decision"): ("change", "excuses"),
    ("GET", f"{API}/excuses"): ("read", "excuses"),
    ("GET", f"{API}/students/<student_id>/meeting-report.pdf"): ("read", "reports"),
    ("GET", f"{API}/classes/<class_id>/meeting-report.pdf"): ("read", "reports"),
    ("GET", f"{API}/students/<student_id>/export"): ("read", "exports"),
    ("GET", f"{API}/classes/<class_id>/register.xml"): ("read", "exports"),
}
# Path parameters naming what was touched when no student is named, most specific first.
_OTHER_SUBJECTS = (("grade_id", "grade"), ("excuse_id", "excuse"), ("lesson_id", "lesson"), ("class_id", "class"))

AUDIT_DROPPED = Counter("audit_entries_dropped_total", "Audit entries dropped because the recorder's buffer was full.")
AUDIT_SENT = Counter("audit_entries_sent_total", "Audit entries handed to identity.")


@dataclass(frozen=True)
class Subject:
    kind: str
    id: str


def subjects_of(view_args: dict, body: object, answer: object) -> list[Subject]:
    """Whose data a request touched: the student in its path or body, one per row of a batch
    (each grade of a batch is a change of its own), else the students its answer lists, else the
    grade, excuse, lesson or class in its path."""
    students: list[str] = [view_args["student_id"]] if view_args.get("student_id") else []
    for source in (body, answer):
        if students or not isinstance(source, dict):
            continue
        if isinstance(source.get("student_id"), str):
            students.append(source["student_id"])
        for rows in (source.get("grades"), source.get("entries")):
            if isinstance(rows, list):
                students.extend(r["student_id"] for r in rows if isinstance(r, dict) and isinstance(r.get("student_id"), str))
    if students:
        return [Subject("student", s) for s in students]
    return [Subject(kind, view_args[name]) for name, kind in _OTHER_SUBJECTS if view_args.get(name)][:1]


class AuditRecorder:
    """Buffers entries and sends them in batches from a thread of each worker process."""

    def __init__(self, send: Callable[[list[pb.AuditEntry]], None], *, interval: float = 0.5, capacity: int = 20_000, batch: int = 500) -> None:
        self.send = send
        self.interval = interval
        self.batch = batch
        self.buffer: queue.Queue[pb.AuditEntry] = queue.Queue(maxsize=capacity)
        self._pending: list[pb.AuditEntry] = []
        self._thread_pid: int | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()

    def add(self, entries: list[pb.AuditEntry]) -> None:
        self._ensure_thread()
        for entry in entries:
            try:
                self.buffer.put_nowait(entry)
            except queue.Full:
                AUDIT_DROPPED.inc()
                log.error("audit buffer full (identity unreachable?): entry for %s %s dropped", entry.subject_kind, entry.subject_id)

    def _ensure_thread(self) -> None:
        # gunicorn forks workers after the app is built: each worker starts its own sender.
        if self._thread_pid != os.getpid():
            with self._lock:
                if self._thread_pid != os.getpid():
                    self._thread_pid = os.getpid()
                    self._pending = []
                    threading.Thread(target=self._run, daemon=True, name="audit-recorder").start()
                    atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception as exc:  # identity away: keep the entries, try again later
                log.warning("audit entries not recorded yet (%d waiting): %s", len(self._pending) + self.buffer.qsize(), exc)

    def flush(self) -> None:
        """Send everything buffered; on failure the entries stay for the next round."""
        with self._lock:
            while True:
                while len(self._pending) < self.batch:
                    try:
                        self._pending.append(self.buffer.get_nowait())
                    except queue.Empty:
                        break
                if not self._pending:
                    return
                self.send(self._pending)
                AUDIT_SENT.inc(len(self._pending))
                self._pending = []


def init_app(app: Flask, recorder: AuditRecorder) -> None:
    """Record an entry for every audited request that reached a signed-in caller."""
    app.extensions["audit"] = recorder

    @app.after_request
    def _audit(response: Response) -> Response:
        rule = request.url_rule.rule if request.url_rule else None
        described = AUDITED.get((request.method, rule)) if rule else None
        principal = getattr(g.get("caller"), "principal", None)
        if described is None or principal is None or principal.is_service:
            return response
        action, resource = described
        view_args = request.view_args or {}
        body = request.get_json(silent=True) if request.is_json and not view_args.get("student_id") else None
        subjects = subjects_of(view_args, body, None)
        if not subjects or subjects[0].kind != "student":  # only then is the (large) answer worth decoding
            answer = response.get_json(silent=True) if response.is_json and response.status_code < 300 else None
            subjects = subjects_of(view_args, body, answer)
        at = datetime.now(timezone.utc).isoformat()
        recorder.add([
            pb.AuditEntry(
                id=str(uuid.uuid4()), at=at, school_id=principal.school_id or "", actor_id=principal.user_id, actor_roles=",".join(sorted(principal.roles)),
                action=action, resource=resource, subject_kind=subject.kind, subject_id=subject.id, method=request.method, path=request.path[:300],
                status=response.status_code, request_id=g.get("request_id", ""), client_ip=request.remote_addr or "",
            )
            for subject in subjects
        ])
        return response
