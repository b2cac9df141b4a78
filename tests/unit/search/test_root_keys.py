"""Indexing skips a parameter whose expression needs top-level keys the resource lacks
(``extract.root_keys``), and never one that can yield a value without them."""

from __future__ import annotations

from fhir_server.search.extract import root_keys
from fhir_server.search.indexer import collect_rows


def test_a_path_needs_its_first_element_and_a_choice_any_of_its_typed_names() -> None:
    assert root_keys(["Observation.encounter"]) == frozenset({"encounter"})
    # choice names are known by element name across types (a superset only costs a useless look)
    assert root_keys(["Observation.subject"]) == frozenset({"subject", "subjectReference", "subjectCodeableConcept"})
    keys = root_keys(["(Observation.value as Quantity)", "Observation.component.code"])
    assert keys is not None and {"valueQuantity", "valueString", "value", "component"} <= keys
    assert root_keys(["Patient.extension('http://example.org/x').value"]) == frozenset({"extension"})


def test_expressions_that_answer_without_the_element_are_never_skipped() -> None:
    # FHIRPath exists() answers false on a missing element: deceased=false must find the patient
    assert root_keys(["Patient.deceased.exists() and Patient.deceased != false"]) is None
    assert root_keys(["Observation"]) is None  # the resource itself (composites)
    assert root_keys(["Observation.code", "Observation.code.exists()"]) is None  # one such branch is enough


def test_rows_of_a_patient_without_deceased_or_address() -> None:
    rows = collect_rows("Patient", {"resourceType": "Patient", "gender": "male"})
    assert sorted(r[:4] for r in rows["search_token"]) == [("deceased", None, None, "false"),
                                                           ("gender", None, None, "male")]
    assert rows["search_string"] == []


def test_a_choice_value_is_found_under_its_typed_name() -> None:
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
           "valueQuantity": {"value": 5, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}}
    rows = collect_rows("Observation", obs)
    assert {r[0] for r in rows["search_quantity"]} >= {"value-quantity", "combo-value-quantity"}
