"""JSON Merge Patch (RFC 7386): the RFC's own examples (appendix A) and the identity rules."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.resources.merge_patch import apply_merge_patch
from fhir_server.resources.patch import PatchError

BASE = {"resourceType": "Basic", "id": "b"}

# RFC 7386 appendix A: (original, patch, result); each wrapped in a resource below.
RFC_EXAMPLES: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("original", "patch", "result"), RFC_EXAMPLES)
def test_rfc_7386_examples(original: dict[str, Any], patch: dict[str, Any], result: dict[str, Any]) -> None:
    before = {**BASE, **original}
    assert apply_merge_patch(before, patch) == {**BASE, **result}
    assert before == {**BASE, **original}  # never mutated


def test_repeating_identity_is_allowed() -> None:
    assert apply_merge_patch(BASE, {"resourceType": "Basic", "id": "b", "x": 1}) == {**BASE, "x": 1}


@pytest.mark.parametrize(("patch", "message"), [
    ({"id": "other"}, "A merge patch may not change the id of a resource ('b' would become 'other')"),
    ({"id": None}, "A merge patch may not change the id of a resource ('b' would become None)"),
    ({"resourceType": "Patient"}, "A merge patch may not change the resourceType of a resource "
                                  "('Basic' would become 'Patient')"),
    ([{"op": "remove", "path": "/x"}], "A JSON Merge Patch body must be a JSON object (a partial resource)"),
])
def test_refused(patch: Any, message: str) -> None:
    with pytest.raises(PatchError) as caught:
        apply_merge_patch(BASE, patch)
    assert caught.value.status == 400 and caught.value.message == message
