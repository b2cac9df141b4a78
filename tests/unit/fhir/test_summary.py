"""_summary and _elements subsets (search.html#summary, #elements)."""

from __future__ import annotations

import pytest

from fhir_server.errors import BadRequest
from fhir_server.fhir.summary import SUBSETTED, apply_elements, apply_summary

OBS = {"resourceType": "Observation", "id": "o", "meta": {"versionId": "1"},
       "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},
       "status": "final", "code": {"text": "weight"}, "valueQuantity": {"value": 1},
       "note": [{"text": "n"}], "referenceRange": [{"text": "r"}]}


def test_summary_true() -> None:
    # Observation: status, code, value[x] are summary elements; note, referenceRange and text are not.
    subset = apply_summary(OBS, "true")
    assert set(subset) == {"resourceType", "id", "meta", "status", "code", "valueQuantity"}
    assert subset["meta"]["tag"] == [SUBSETTED]


def test_summary_text_keeps_text_and_mandatory() -> None:
    assert set(apply_summary(OBS, "text")) == {"resourceType", "id", "meta", "text", "status", "code"}


def test_summary_data_drops_text_only() -> None:
    assert set(apply_summary(OBS, "data")) == set(OBS) - {"text"}


def test_summary_false_is_identity() -> None:
    assert apply_summary(OBS, "false") is OBS


def test_summary_unknown_mode() -> None:
    with pytest.raises(BadRequest):
        apply_summary(OBS, "yes")


def test_elements_choice_and_mandatory() -> None:
    assert set(apply_elements(OBS, ["value"])) == {"resourceType", "id", "meta", "status", "code",
                                                   "valueQuantity"}
    assert set(apply_elements(OBS, ["note"])) == {"resourceType", "id", "meta", "status", "code", "note"}
