"""Whole numbers from clients are ASCII digits only (``str.isdigit`` also takes ``²``)."""

from __future__ import annotations

import pytest

from fhir_server.errors import BadRequest
from fhir_server.fhir.numbers import is_ascii_digits, parse_count, parse_cursor_number


@pytest.mark.parametrize(("text", "expected"), [
    ("0", True), ("0042", True), ("1000", True), ("", False), ("\u00b2", False), ("1\u00b2", False),
    ("\u0663", False), ("\uff11", False), ("-1", False), ("+1", False), (" 1", False), ("1 ", False),
    ("1.0", False), ("1\n", False)])
def test_is_ascii_digits(text: str, expected: bool) -> None:
    assert "\u00b2".isdigit()  # why this module exists
    assert is_ascii_digits(text) is expected


def test_parse_count() -> None:
    assert parse_count("0") == 0
    assert parse_count("50", 20) == 20
    assert parse_count("7", 20) == 7
    with pytest.raises(BadRequest) as caught:
        parse_count("\u00b2", 20)
    assert caught.value.message == "_count must be a non-negative integer, not '\u00b2'"
    assert caught.value.status == 400 and caught.value.code == "invalid"


def test_parse_cursor_number() -> None:
    assert parse_cursor_number("123456789012345678") == 123456789012345678
    for bad in ("\u00b2", "1234567890123456789", "", "-5"):
        with pytest.raises(BadRequest) as caught:
            parse_cursor_number(bad)
        assert caught.value.message == "_cursor is not valid: use the paging links the server returned"
