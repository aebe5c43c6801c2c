"""Shapes the gateway shares between resources."""
from __future__ import annotations

import pytest
from marshmallow import Schema, ValidationError

from gateway.api.schemas import StrictBoolean


class Flag(Schema):
    on = StrictBoolean(required=True)


@pytest.mark.parametrize("value", [True, False])
def test_a_json_boolean_is_taken(value):
    assert Flag().load({"on": value}) == {"on": value}


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, "on", "t", None])
def test_anything_else_is_refused_rather_than_guessed(value):
    with pytest.raises(ValidationError):
        Flag().load({"on": value})
