"""Body parsing: decimal precision, defects reported as BadRequest."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fhir_server.errors import BadRequest
from fhir_server.jsonio import check_depth, dumps, parse_json


@pytest.mark.parametrize("text", [b"1.50", b"0.10", b"100.0000", b"1e3", b"12345678901234567890",
                                  b"3.14159265358979323846"])
def test_lossy_numbers_keep_their_text(text: bytes) -> None:
    assert dumps(parse_json(b'{"v":' + text + b"}")) == b'{"v":' + text.replace(b"1e3", b"1E+3") + b"}"


def test_plain_numbers_take_the_fast_path() -> None:
    value = parse_json(b'{"a":1.5,"b":2,"c":0.1}')
    assert value == {"a": 1.5, "b": 2, "c": 0.1}
    assert not any(isinstance(v, Decimal) for v in value.values())


@pytest.mark.parametrize(("raw", "fragment"), [(b"{", "not valid JSON"), (b'{"a":NaN}', "not valid JSON"),
                                               (b'{"a":"\xff"}', "UTF-8"), (b"", "not valid JSON")])
def test_defects(raw: bytes, fragment: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_json(raw)
    assert fragment in caught.value.message


def test_depth_limit() -> None:
    check_depth({"a": [{"b": 1}]}, 3)
    with pytest.raises(BadRequest):
        check_depth({"a": [{"b": {}}]}, 3)
    check_depth("scalar", 0)
    check_depth([[[]], {"x": []}], 3)
    with pytest.raises(BadRequest):  # the deep branch is the second child of a wide list
        check_depth([1, [2, [3, [4]]], []], 3)


def test_one_lossy_number_sends_the_whole_body_to_decimal() -> None:
    value = parse_json(b'{"v":443.8704922906763,"w":[1.50]}')
    assert value["w"] == [Decimal("1.50")]
    assert dumps(value) == b'{"v":443.8704922906763,"w":[1.50]}'


def test_numbers_in_one_array_keep_their_text() -> None:
    value = parse_json(b'{"w":[443.8704922906763,1.50]}')
    assert dumps(value) == b'{"w":[443.8704922906763,1.50]}'


def test_no_depth_check_for_stored_data() -> None:
    deep = b'{"a": [{"b": {"c": [1]}}]}'
    with pytest.raises(BadRequest):
        parse_json(deep, 3)
    assert parse_json(deep, None) == {"a": [{"b": {"c": [1]}}]}
