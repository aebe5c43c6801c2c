"""The signed-in user."""
from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from dziennik.identity.v1 import identity_pb2
from gateway.security import caller

blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="Zalogowany użytkownik")


class AccessSchema(Schema):
    tier = fields.String(metadata={"enum": ["basic", "extended"]})
    valid_until = fields.Date(allow_none=True)


class ChildSchema(Schema):
    student_id = fields.String()
    first_name = fields.String()
    last_name = fields.String()
    class_id = fields.String(allow_none=True)
    class_name = fields.String(allow_none=True)
    access = fields.Nested(AccessSchema)


class MeSchema(Schema):
    id = fields.String()
    login = fields.String()
    first_name = fields.String()
    last_name = fields.String()
    roles = fields.List(fields.String())
    school_id = fields.String(allow_none=True)
    children = fields.List(fields.Nested(ChildSchema))
    access = fields.Nested(AccessSchema)


# Entitlements (extended access) arrive with the billing and identity issues; until then every
# account has basic access, which is what this reports.
BASIC_ACCESS = {"tier": "basic", "valid_until": None}


@blp.route("", methods=["GET"])
@blp.response(200, MeSchema)
def me():
    """Who is signed in, their roles, school and children."""
    answer = current_app.extensions["backends"].identity.GetMe(identity_pb2.GetMeRequest(), metadata=caller().metadata)
    return {
        "id": answer.id,
        "login": answer.login,
        "first_name": answer.first_name,
        "last_name": answer.last_name,
        "roles": [identity_pb2.Role.Name(r).removeprefix("ROLE_").lower() for r in answer.roles],
        "school_id": answer.school_id or None,
        "children": [
            {"student_id": c.student_id, "first_name": c.first_name, "last_name": c.last_name, "class_id": None, "class_name": None, "access": BASIC_ACCESS}
            for c in answer.children
        ],
        "access": BASIC_ACCESS,
    }
