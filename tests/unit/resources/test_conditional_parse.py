"""Parsing of conditional criteria (If-None-Exist and conditional URLs)."""

from __future__ import annotations

import pytest

from fhir_server.errors import BadRequest
from fhir_server.resources.conditional import parse_condition


def test_plain_and_prefixed_forms() -> None:
    expected = [("identifier", "http://x|1"), ("name", "a")]
    assert parse_condition("identifier=http://x|1&name=a") == expected
    assert parse_condition("Patient?identifier=http%3A%2F%2Fx%7C1&name=a") == expected


@pytest.mark.parametrize("raw", ["", "Patient?", "&&"])
def test_empty_criteria_are_refused(raw: str) -> None:
    with pytest.raises(BadRequest):
        parse_condition(raw)
