"""The signed-in user: who they are, their children and access, password and second factor."""
from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from dziennik.identity.v1 import identity_pb2
from gateway.api.admin import role_name
from gateway.api.schemas import StrictBoolean, password_field, totp_code_field
from gateway.security import caller

blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="Zalogowany użytkownik")


class AccessSchema(Schema):
    tier = fields.String(metadata={"enum": ["basic", "extended"]})
    valid_until = fields.String(allow_none=True, metadata={"format": "date"})


class SmsAlertsSchema(Schema):
    allowed = StrictBoolean(metadata={"description": "The school's policy lets you get SMS alerts about this child (the sms_alerts add-on, or extended access where the school reserves SMS for it)."})
    add_on_valid_until = fields.String(allow_none=True, metadata={"format": "date", "description": "The last day of the sms_alerts add-on; null: none bought."})


class ChildSchema(Schema):
    student_id = fields.String()
    first_name = fields.String()
    last_name = fields.String()
    class_id = fields.String(allow_none=True)
    class_name = fields.String(allow_none=True)
    access = fields.Nested(AccessSchema)
    sms_alerts = fields.Nested(SmsAlertsSchema)


class MeSchema(Schema):
    id = fields.String()
    login = fields.String()
    first_name = fields.String()
    last_name = fields.String()
    roles = fields.List(fields.String())
    school_id = fields.String(allow_none=True)
    children = fields.List(fields.Nested(ChildSchema))
    access = fields.Nested(AccessSchema)
    mfa_enabled = StrictBoolean()
    mfa_enrollment_required = StrictBoolean(metadata={"description": "Staff must enrol TOTP before anything else works."})


class PasswordChangeSchema(Schema):
    current_password = password_field()
    new_password = password_field()


class TotpEnrolmentSchema(Schema):
    secret = fields.String()
    otpauth_uri = fields.String()


class TotpConfirmationSchema(Schema):
    code = totp_code_field()


def _identity():
    return current_app.extensions["backends"].identity


def access(message) -> dict:
    return {"tier": "extended" if message.tier == identity_pb2.TIER_EXTENDED else "basic", "valid_until": message.valid_until or None}


@blp.route("", methods=["GET"])
@blp.response(200, MeSchema)
def me():
    """Who is signed in: roles, school, children with their class and access tier."""
    answer = _identity().GetMe(identity_pb2.GetMeRequest(), metadata=caller().metadata)
    return {
        "id": answer.id,
        "login": answer.login,
        "first_name": answer.first_name,
        "last_name": answer.last_name,
        "roles": [role_name(r) for r in answer.roles],
        "school_id": answer.school_id or None,
        "children": [
            {
                "student_id": c.student_id,
                "first_name": c.first_name,
                "last_name": c.last_name,
                "class_id": c.class_id or None,
                "class_name": c.class_name or None,
                "access": access(c.access),
                "sms_alerts": {"allowed": c.sms_alerts.allowed, "add_on_valid_until": c.sms_alerts.add_on_valid_until or None},
            }
            for c in answer.children
        ],
        "access": access(answer.access),
        "mfa_enabled": answer.mfa_enabled,
        "mfa_enrollment_required": answer.mfa_enrollment_required,
    }


@blp.route("/password", methods=["POST"])
@blp.arguments(PasswordChangeSchema)
@blp.response(204)
def change_password(body):
    """Change the password; every other session of the account ends."""
    _identity().ChangePassword(
        identity_pb2.ChangePasswordRequest(current_password=body["current_password"], new_password=body["new_password"]), metadata=caller().metadata
    )


@blp.route("/mfa/totp", methods=["POST"])
@blp.response(200, TotpEnrolmentSchema)
def enroll_totp():
    """Start enrolling an authenticator app: a secret and an otpauth:// URI for a QR code."""
    answer = _identity().EnrollTotp(identity_pb2.EnrollTotpRequest(), metadata=caller().metadata)
    return {"secret": answer.secret, "otpauth_uri": answer.otpauth_uri}


@blp.route("/mfa/totp/confirm", methods=["POST"])
@blp.arguments(TotpConfirmationSchema)
@blp.response(204)
def confirm_totp(body):
    """Turn the second factor on with a first code. Then refresh the tokens
    (POST /auth/refresh): the new access token is no longer limited to enrolment."""
    _identity().ConfirmTotp(identity_pb2.ConfirmTotpRequest(code=body["code"].strip()), metadata=caller().metadata)
