"""Sign-in: login, token refresh, logout, account activation."""
from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from dziennik.identity.v1 import identity_pb2
from gateway.security import caller, public

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Logowanie i sesje")


class LoginSchema(Schema):
    login = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024), load_only=True)


class RefreshSchema(Schema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=200))


class ActivateSchema(Schema):
    activation_code = fields.String(required=True, validate=validate.Length(min=1, max=40))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class TokenPairSchema(Schema):
    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.String(dump_default="Bearer")
    expires_in = fields.Integer()


class ActivatedSchema(Schema):
    login = fields.String()


def _identity():
    return current_app.extensions["backends"].identity


def _pair(tokens) -> dict:
    return {"access_token": tokens.access_token, "refresh_token": tokens.refresh_token, "token_type": "Bearer", "expires_in": tokens.expires_in}


@public
@blp.route("/login", methods=["POST"])
@blp.arguments(LoginSchema)
@blp.response(200, TokenPairSchema)
def login(body):
    """Sign in with login and password; answers the same 401 whether or not the login exists."""
    answer = _identity().Login(identity_pb2.LoginRequest(login=body["login"], password=body["password"]))
    return _pair(answer.tokens)


@public
@blp.route("/refresh", methods=["POST"])
@blp.arguments(RefreshSchema)
@blp.response(200, TokenPairSchema)
def refresh(body):
    """Trade a refresh token for a new pair; the old refresh token stops working."""
    answer = _identity().Refresh(identity_pb2.RefreshRequest(refresh_token=body["refresh_token"]))
    return _pair(answer.tokens)


@blp.route("/logout", methods=["POST"])
@blp.response(204)
def logout():
    """End this sign-in session: its refresh tokens are revoked."""
    _identity().Logout(identity_pb2.LogoutRequest(), metadata=caller().metadata)
    return None


@public
@blp.route("/activate", methods=["POST"])
@blp.arguments(ActivateSchema)
@blp.response(200, ActivatedSchema)
def activate(body):
    """Set the password of a school-created account with its one-time activation code."""
    answer = _identity().Activate(identity_pb2.ActivateRequest(activation_code=body["activation_code"], password=body["password"]))
    return {"login": answer.login}


@public
@blp.route("/jwks.json", methods=["GET"])
def jwks():
    """The public keys (JWKS, RFC 7517) that verify access tokens, for other relying parties."""
    from flask import Response

    answer = _identity().GetJwks(identity_pb2.GetJwksRequest())
    return Response(answer.jwks_json, mimetype="application/jwk-set+json", headers={"Cache-Control": "public, max-age=300"})
