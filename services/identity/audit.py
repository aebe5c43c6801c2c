"""The audit trail (RODO art. 30 and 32): who read or changed which student's data and when, kept
per school and read by its admin; and the alarm when one account changes an unusual number of
grades in a short time (the January 2026 account takeovers entered failing grades in bulk)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import Counter
from sqlalchemy import func, select

from platform_kit.auth import Principal
from platform_kit.clock import utcnow
from platform_kit.db import Database, insert_new
from platform_kit.errors import InvalidArgument, NotFound, PermissionDenied
from services.identity.orm import AuditEntry

log = logging.getLogger(__name__)

ACTIONS = ("read", "change")
READERS = ("school_admin", "principal")
MAX_BATCH = 1000
BULK_GRADE_CHANGES = Counter(
    "audit_bulk_grade_changes_total", "Accounts that changed an unusual number of grades in a short time (possible takeover)."
)


@dataclass(frozen=True)
class BulkRule:
    """More than `threshold` grade changes by one account within `window`: sound the alarm."""

    threshold: int = 200
    window: timedelta = timedelta(minutes=10)

    def crossed(self, before: int, after: int) -> bool:
        """Did this batch take the account over the threshold (alarm once per crossing)?"""
        return before <= self.threshold < after


class AuditTrail:
    def __init__(self, database: Database, rule: BulkRule = BulkRule()) -> None:
        self.database = database
        self.rule = rule

    def record(self, caller: Principal, entries: list[dict]) -> int:
        """Keep the entries (services only); one already kept (a retried batch) is skipped."""
        if not caller.is_service:
            raise NotFound("nie ma takiej usługi")
        if len(entries) > MAX_BATCH:
            raise InvalidArgument(f"najwyżej {MAX_BATCH} wpisów naraz")
        for entry in entries:
            if entry["action"] not in ACTIONS or not entry["id"] or not entry["actor_id"]:
                raise InvalidArgument("niepoprawny wpis dziennika zdarzeń", field_errors={"entries": f"action ∈ {ACTIONS}, id and actor_id set"})
        unique = list({e["id"]: e for e in entries}.values())
        with self.database.transaction() as session:
            # Plain rows in one statement (a batch is hundreds of parents' page views); the ones
            # kept before are skipped by the database, which answers the ids it added.
            table = AuditEntry.__table__
            added = set(insert_new(session, table, unique, table.c.id))
            fresh = [e for e in unique if e["id"] in added]
            changes_by_actor: dict[tuple[str, str], int] = {}
            for entry in fresh:
                if entry["action"] == "change" and entry["resource"] in ("grades", "term_grades"):
                    key = (entry["actor_id"], entry["school_id"])
                    changes_by_actor[key] = changes_by_actor.get(key, 0) + 1
            for (actor_id, school_id), added in changes_by_actor.items():
                after = session.scalar(
                    select(func.count()).select_from(AuditEntry).where(
                        AuditEntry.actor_id == actor_id,
                        AuditEntry.action == "change",
                        AuditEntry.resource.in_(("grades", "term_grades")),
                        AuditEntry.at >= utcnow() - self.rule.window,
                    )
                )
                if self.rule.crossed(after - added, after):
                    BULK_GRADE_CHANGES.inc()
                    log.warning(
                        "unusual number of grade changes: account %s (school %s) changed %d grades within %d minutes; possible account takeover",
                        actor_id, school_id, after, self.rule.window.total_seconds() // 60,
                    )
            return len(fresh)

    def entries(self, caller: Principal, *, student_id: str = "", actor_id: str = "", start: datetime, end: datetime, limit: int = 200) -> list[AuditEntry]:
        """The caller's school's entries in [start, end), newest first (its admin or principal)."""
        if not caller.school_id or not caller.has_any_role(*READERS):
            raise PermissionDenied("dziennik zdarzeń szkoły czyta sekretariat albo dyrekcja")
        with self.database.transaction() as session:
            query = select(AuditEntry).where(AuditEntry.school_id == caller.school_id, AuditEntry.at >= start, AuditEntry.at < end)
            if student_id:
                query = query.where(AuditEntry.subject_kind == "student", AuditEntry.subject_id == student_id)
            if actor_id:
                query = query.where(AuditEntry.actor_id == actor_id)
            return list(session.scalars(query.order_by(AuditEntry.at.desc(), AuditEntry.id).limit(max(1, min(limit, 1000)))))
