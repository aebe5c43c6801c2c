"""Grade values as Polish schools write them (DOMAIN.md, "Grades")."""
from __future__ import annotations

import pytest

from platform_kit.errors import InvalidArgument
from services.gradebook.grades import MARKS, normalise_grade_value


@pytest.mark.parametrize("value", ["1", "2", "3", "4", "5", "6"])
def test_whole_grades_1_to_6(value):
    assert normalise_grade_value(value) == value


@pytest.mark.parametrize("value", ["1+", "2+", "2-", "4+", "4-", "5-", "6-"])
def test_grades_with_modifiers(value):
    assert normalise_grade_value(value) == value


@pytest.mark.parametrize(("raw", "canonical"), [(" 4+ ", "4+"), ("\t5-\n", "5-"), ("NP", "np"), (" Bz", "bz")])
def test_spacing_and_case_are_normalised(raw, canonical):
    assert normalise_grade_value(raw) == canonical


@pytest.mark.parametrize("mark", ["+", "-", "np", "bz", "nk", "zw"])
def test_non_numeric_marks(mark):
    assert normalise_grade_value(mark) == mark
    assert mark in MARKS


@pytest.mark.parametrize("raw", ["7", "0", "6+", "1-", "4++", "4+-", "+4", "44", "", "   ", "abc", "4.5", "-1", None])
def test_refused_values_name_the_value_field(raw):
    with pytest.raises(InvalidArgument) as caught:
        normalise_grade_value(raw)

    assert caught.value.code == "validation_error"
    assert set(caught.value.field_errors) == {"value"}
    assert caught.value.field_errors["value"]
