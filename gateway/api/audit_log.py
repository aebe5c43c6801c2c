"""The school's audit trail (RODO): who read or changed which student's data, for its admin."""
from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from dziennik.identity.v1 import identity_pb2 as pb
from gateway.security import caller

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="Dziennik zdarzeń (RODO)")

_ID = validate.Regexp(r"^[0-9a-fA-F-]{36}$", error="Identyfikator UUID.")


class AuditQuerySchema(Schema):
    student_id = fields.String(validate=_ID, metadata={"description": "Only entries about this student."})
    actor_id = fields.String(validate=_ID, metadata={"description": "Only what this account did."})
    from_ = fields.Date(data_key="from", metadata={"description": "Default: 30 days ago."})
    to = fields.Date(metadata={"description": "Default: today (inclusive)."})
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))


class AuditEntrySchema(Schema):
    id = fields.String()
    at = fields.String(metadata={"format": "date-time"})
    actor_id = fields.String()
    actor_roles = fields.List(fields.String())
    action = fields.String(metadata={"enum": ["read", "change"]})
    resource = fields.String(metadata={"description": "grades, term_grades, attendance, excuses, reports, exports"})
    subject_kind = fields.String(metadata={"enum": ["student", "class", "lesson", "grade", "excuse"]})
    subject_id = fields.String()
    method = fields.String()
    path = fields.String()
    status = fields.Integer(metadata={"description": "The HTTP status the request was answered with (refusals are recorded too)."})
    request_id = fields.String()
    client_ip = fields.String()


class AuditListSchema(Schema):
    items = fields.List(fields.Nested(AuditEntrySchema))


@blp.route("", methods=["GET"])
@blp.arguments(AuditQuerySchema, location="query")
@blp.response(200, AuditListSchema)
def audit_entries(query):
    """Who read or changed which student's data in your school, newest first (the school admin or principal)."""
    request = pb.ListAuditRequest(
        student_id=query.get("student_id", ""), actor_id=query.get("actor_id", ""), limit=query["limit"],
        to=query["to"].isoformat() if query.get("to") else "", **{"from": query["from_"].isoformat() if query.get("from_") else ""},
    )
    answer = current_app.extensions["backends"].identity.ListAudit(request, metadata=caller().metadata)
    return {
        "items": [
            {
                "id": e.id, "at": e.at, "actor_id": e.actor_id, "actor_roles": [r for r in e.actor_roles.split(",") if r], "action": e.action, "resource": e.resource,
                "subject_kind": e.subject_kind, "subject_id": e.subject_id, "method": e.method, "path": e.path, "status": e.status, "request_id": e.request_id,
                "client_ip": e.client_ip,
            }
            for e in answer.entries
        ]
    }
