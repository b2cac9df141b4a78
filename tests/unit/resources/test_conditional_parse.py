"""Parsing of conditional criteria (If-None-Exist and conditional URLs)."""

from __future__ import annotations

import pytest

from fhir_server.errors import BadRequest
from fhir_server.resources.conditional import condition_key, parse_condition


def test_plain_and_prefixed_forms() -> None:
    expected = [("identifier", "http://x|1"), ("name", "a")]
    assert parse_condition("identifier=http://x|1&name=a") == expected
    assert parse_condition("Patient?identifier=http%3A%2F%2Fx%7C1&name=a") == expected


@pytest.mark.parametrize("raw", ["", "Patient?", "&&"])
def test_empty_criteria_are_refused(raw: str) -> None:
    with pytest.raises(BadRequest):
        parse_condition(raw)


KEY = "Patient?identifier=urn:cc|K"


@pytest.mark.parametrize("raw", [
    "identifier=urn:cc|K",
    "identifier=urn:cc|K&identifier=urn:cc|K",  # a repeated AND of the same criterion
    "identifier=urn:cc|K&_format=json",
    "_pretty=true&identifier=urn:cc|K&_format=xml&_count=5",
    "identifier=urn:cc|K&_id:missing=false",  # every resource has an id
    "identifier=urn:cc|K,urn:cc|K",  # a repeated OR value
])
def test_spellings_of_one_condition_share_a_key(raw: str) -> None:
    assert condition_key("Patient", parse_condition(raw)) == KEY


def test_order_of_parameters_and_of_or_values_does_not_matter() -> None:
    one = condition_key("Patient", parse_condition("name=b,a&identifier=s|1&identifier=s|2"))
    other = condition_key("Patient", parse_condition("identifier=s|2&name=a,b&identifier=s|1"))
    assert one == other == "Patient?identifier=s|1&identifier=s|2&name=a,b"


@pytest.mark.parametrize("raw", [
    "identifier=urn:cc|K&active=true",  # narrower: not the same condition
    "identifier=urn:cc|K,urn:cc|L",  # wider
    "identifier=urn:cc|K&_id:missing=true",  # matches nothing
    "identifier:not=urn:cc|K",
])
def test_different_conditions_keep_different_keys(raw: str) -> None:
    assert condition_key("Patient", parse_condition(raw)) != KEY


def test_escaped_commas_stay_one_value() -> None:
    assert condition_key("Patient", parse_condition(r"name=b\,a")) == r"Patient?name=b\,a"
    assert condition_key("Patient", parse_condition(r"name=a,b\,c")) == r"Patient?name=a,b\,c"


def test_key_names_the_type() -> None:
    assert condition_key("Practitioner", [("identifier", "urn:cc|K")]) == "Practitioner?identifier=urn:cc|K"
