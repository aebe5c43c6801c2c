"""Request and response shapes shared by several resources."""
from marshmallow import Schema, fields, validate


class StrictBoolean(fields.Boolean):
    """A JSON boolean and nothing else: marshmallow's own also takes "yes", "on", 1 and "t"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class IdSchema(Schema):
    id = fields.String()


class ProblemSchema(Schema):
    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    code = fields.String(metadata={"description": "Stable snake_case error code front ends switch on."})
    request_id = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.String())


def password_field(**kwargs) -> fields.String:
    """A password as typed: the strength rules are identity's, here only a sane size."""
    return fields.String(required=True, validate=validate.Length(min=1, max=1024), load_only=True, **kwargs)


def totp_code_field() -> fields.String:
    return fields.String(required=True, validate=validate.Regexp(r"^\s*\d{6}\s*$", error="Kod to 6 cyfr."))
