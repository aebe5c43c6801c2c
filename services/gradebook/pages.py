"""A student's grades page kept as it is served: parents and students open it at every login, most
of them between 7:45 and 8:15, and it rarely changes between two looks (issue #11).

The page — a school year's grades by subject with averages, term grades and suggestions — is the
REST API's JSON (API.md `GET /api/v1/students/{id}/grades`; the gateway documents the shape in
`StudentGradesSchema`), kept gzip-compressed: the gateway sends these bytes untouched to clients
that accept gzip (nearly all: ~12 kB instead of ~120 kB to a phone at 8:00) and the JSON inflated
to the others. A stored page is current while the two versions it was built from still are:

- the student's, raised in the transaction that records, changes or deletes one of their grades
  or sets one of their term grades;
- the school's, raised when the school's grading rules change (they change every page of it).

A read takes both current versions and the page stored with them in one statement; a page that
is missing or stale is rebuilt and stored. The versions are read before the rows a page is built
from, so a change committed in between leaves the new page under the older versions: stale at the
next read, never wrong for longer. `PAGE_FORMAT` counts the JSON's shapes, so pages stored by an
older release are rebuilt by a newer one.

Whatever the page starts to show must raise one of the versions where it changes (`changed`);
that is also where `PagesChanged` is recorded, so copies of pages kept outside gradebook (the
gateway's, gateway/page_copies.py) are dropped with the same rule.
"""
from __future__ import annotations

import gzip
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from dziennik.gradebook.v1 import events_pb2
from platform_kit.bus import record_event
from platform_kit.clock import utcnow
from platform_kit.db import upsert_insert
from services.gradebook.events import PAGES_CHANGED
from services.gradebook.orm import GradePage, PageVersion

if TYPE_CHECKING:
    from services.gradebook.use_cases import GradeView, StudentReport

PAGE_FORMAT = 1
TERM_KINDS = ("semester_proposed", "semester_final", "annual_proposed", "annual_final")


@dataclass(frozen=True)
class Stored:
    """The page's current versions and, if one was stored with them, the page."""

    student_version: int
    school_version: int
    school_year: str
    body: bytes | None  # gzip-compressed JSON (`pack`)

    @property
    def version(self) -> str:
        """The page's ETag: it changes whenever its content may have."""
        return f"{PAGE_FORMAT}.{self.student_version}.{self.school_version}.{self.school_year}"


_CURRENT = text(
    """
    SELECT v.student_version, v.school_version, p.body_gzip
    FROM (SELECT coalesce((SELECT version FROM page_versions WHERE owner_id = :student_id), 0) AS student_version,
                 coalesce((SELECT version FROM page_versions WHERE owner_id = :school_id), 0) AS school_version) AS v
    LEFT JOIN grade_pages AS p
      ON p.student_id = :student_id AND p.school_year = :school_year AND p.page_format = :page_format
     AND p.student_version = v.student_version AND p.school_version = v.school_version
    """
)


def stored(session: Session, student_id: str, school_id: str, school_year: str) -> Stored:
    row = session.execute(
        _CURRENT, {"student_id": student_id, "school_id": school_id, "school_year": school_year, "page_format": PAGE_FORMAT}
    ).one()
    return Stored(row.student_version, row.school_version, school_year, bytes(row.body_gzip) if row.body_gzip is not None else None)


def store(session: Session, student_id: str, page: Stored, body: bytes) -> None:
    """Keep `body` (packed), built from rows read after `page`'s versions, as the page of those versions."""
    values = {
        "student_id": student_id,
        "school_year": page.school_year,
        "page_format": PAGE_FORMAT,
        "student_version": page.student_version,
        "school_version": page.school_version,
        "body_gzip": body,
        "built_at": utcnow(),
    }
    insert = upsert_insert(session, GradePage).values(values)
    kept = {key: insert.excluded[key] for key in ("page_format", "student_version", "school_version", "body_gzip", "built_at")}
    session.execute(insert.on_conflict_do_update(index_elements=["student_id", "school_year"], set_=kept))


def changed(session: Session, *, students: Iterable[str] = (), schools: Iterable[str] = ()) -> None:
    """Raise the versions of these students (their own rows changed) or schools (their grading
    rules changed), in the transaction that changes them, and say so (`PagesChanged`, for copies
    of pages kept elsewhere: the gateway's). Sorted, so that two batches of one class lock the
    same rows in the same order."""
    student_ids, school_ids = sorted(set(students)), sorted(set(schools))
    owners = sorted(student_ids + school_ids)
    if not owners:
        return
    insert = upsert_insert(session, PageVersion).values([{"owner_id": owner, "version": 1} for owner in owners])
    session.execute(insert.on_conflict_do_update(index_elements=["owner_id"], set_={"version": PageVersion.version + 1}))
    record_event(session, PAGES_CHANGED, events_pb2.PagesChanged(student_ids=student_ids, school_ids=school_ids))


# -- the page's JSON -------------------------------------------------------------------------------


def pack(page_json: bytes) -> bytes:
    """The JSON as it is stored and sent: gzip (RFC 1952, what HTTP's Content-Encoding: gzip
    means). Level 6: once per change of a page, for reads at every login; no timestamp, so the
    same page packs to the same bytes."""
    return gzip.compress(page_json, compresslevel=6, mtime=0)


def unpack(body: bytes) -> bytes:
    return gzip.decompress(body)


def render(report: StudentReport) -> bytes:
    return orjson.dumps(
        {
            "student_id": report.student_id,
            "school_year": report.school_year,
            "overall_average": _number(report.overall_average),
            "subjects": [
                {
                    "subject_id": subject.subject.id,
                    "subject_name": subject.subject.name,
                    "grades": [_grade(view) for view in subject.grades],
                    "average": _number(subject.averages["year"]),
                    "averages": {period: _number(subject.averages[period]) for period in ("semester_1", "semester_2", "year")},
                    "term_grades": {kind: subject.term_grades.get(kind) or None for kind in TERM_KINDS},
                    "suggested_semester_grade": subject.suggested_semester_grade or None,
                    "suggested_annual_grade": subject.suggested_annual_grade or None,
                }
                for subject in report.subjects
            ],
        }
    )


def _grade(view: GradeView) -> dict:
    grade, category = view.grade, view.category
    return {
        "id": grade.id,
        "student_id": grade.student_id,
        "subject_id": grade.subject_id,
        "value": grade.value,
        "category": category.name if category else None,
        "category_id": grade.category_id or None,
        "weight": category.weight if category else 1,
        "counts_to_average": (category.counts_to_average if category else True) and grade.points is None,
        "date": grade.issued_on.isoformat(),
        "semester": view.semester,
        "school_year": grade.school_year,
        "teacher": grade.teacher_id,
        "comment": grade.comment,
        "points": _number(grade.points),
        "max_points": _number(grade.max_points),
        "improves_grade_id": grade.improves_grade_id or None,
        "version": grade.version,
    }


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)
