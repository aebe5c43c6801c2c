"""Request and response shapes shared by several resources."""
from marshmallow import Schema, fields


class ProblemSchema(Schema):
    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    code = fields.String(metadata={"description": "Stable snake_case error code front ends switch on."})
    request_id = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.String())
