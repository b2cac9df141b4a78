"""Primitive checks remember valid strings per type (primitives._VALID): a string valid for
one type must still be judged by another's rules, and invalid values every time."""

from __future__ import annotations

from fhir_server.resources.validation.primitives import primitive_problem


def test_a_string_remembered_as_valid_is_still_checked_per_type() -> None:
    for _ in range(2):
        assert primitive_problem("string", "a b") is None
        assert primitive_problem("id", "a b") == "'a b' is not a valid id"
        assert primitive_problem("date", "2019-02-28") is None
        assert primitive_problem("date", "2019-02-29") == "'2019-02-29' is not a valid date: no such day"
        assert primitive_problem("code", 7) == "must be a JSON string (code)"
