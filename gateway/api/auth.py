"""Sign-in: login (with the second factor), token refresh, logout, account activation."""
from __future__ import annotations

from flask import Response, current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from dziennik.identity.v1 import identity_pb2
from gateway.api.schemas import StrictBoolean, password_field, totp_code_field
from gateway.security import caller, client_ip, public

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Logowanie i sesje")


class LoginSchema(Schema):
    login = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = password_field()


class MfaSchema(Schema):
    mfa_token = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    code = totp_code_field()


class RefreshSchema(Schema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=200))


class ActivateSchema(Schema):
    activation_code = fields.String(required=True, validate=validate.Length(min=1, max=40))
    password = password_field()


class TokenPairSchema(Schema):
    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.String(metadata={"example": "Bearer"})
    expires_in = fields.Integer()


class SignInSchema(TokenPairSchema):
    mfa_required = StrictBoolean(metadata={"description": "true: send the code with mfa_token to /auth/mfa"})
    mfa_token = fields.String()


class ActivatedSchema(Schema):
    login = fields.String()


def _identity():
    return current_app.extensions["backends"].identity


def _pair(tokens) -> dict:
    return {"access_token": tokens.access_token, "refresh_token": tokens.refresh_token, "token_type": "Bearer", "expires_in": tokens.expires_in}


@public
@blp.route("/login", methods=["POST"])
@blp.arguments(LoginSchema)
@blp.response(200, SignInSchema)
def login(body):
    """Sign in with login and password. Accounts with a second factor get `mfa_required` and an
    `mfa_token` instead of tokens. The same 401 whether or not the login exists; repeated
    failures are slowed down with 429 and Retry-After."""
    answer = _identity().Login(identity_pb2.LoginRequest(login=body["login"], password=body["password"], client_ip=client_ip()))
    if answer.mfa_required:
        return {"mfa_required": True, "mfa_token": answer.mfa_token}
    return _pair(answer.tokens)


@public
@blp.route("/mfa", methods=["POST"])
@blp.arguments(MfaSchema)
@blp.response(200, TokenPairSchema)
def verify_mfa(body):
    """Finish signing in with the code from the authenticator app (each code works once)."""
    answer = _identity().VerifyMfa(identity_pb2.VerifyMfaRequest(mfa_token=body["mfa_token"], code=body["code"].strip(), client_ip=client_ip()))
    return _pair(answer.tokens)


@public
@blp.route("/refresh", methods=["POST"])
@blp.arguments(RefreshSchema)
@blp.response(200, TokenPairSchema)
def refresh(body):
    """Trade a refresh token for a new pair; the old refresh token stops working, and using it
    again ends the whole session."""
    answer = _identity().Refresh(identity_pb2.RefreshRequest(refresh_token=body["refresh_token"]))
    return _pair(answer.tokens)


@blp.route("/logout", methods=["POST"])
@blp.response(204)
def logout():
    """End this sign-in session: its refresh tokens are revoked."""
    _identity().Logout(identity_pb2.LogoutRequest(), metadata=caller().metadata)


@public
@blp.route("/activate", methods=["POST"])
@blp.arguments(ActivateSchema)
@blp.response(200, ActivatedSchema)
def activate(body):
    """Set the password of a school-created account with its one-time activation code.
    Common or guessable passwords get 400 weak_password."""
    answer = _identity().Activate(identity_pb2.ActivateRequest(activation_code=body["activation_code"], password=body["password"]))
    return {"login": answer.login}


@public
@blp.route("/jwks.json", methods=["GET"])
@blp.response(200, {"type": "object", "properties": {"keys": {"type": "array", "items": {"type": "object"}}}}, content_type="application/jwk-set+json")
def jwks():
    """The public keys (JWKS, RFC 7517) that verify access tokens, for other relying parties."""
    answer = _identity().GetJwks(identity_pb2.GetJwksRequest())
    return Response(answer.jwks_json, mimetype="application/jwk-set+json", headers={"Cache-Control": "public, max-age=300"})
