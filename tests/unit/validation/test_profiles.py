"""Profile checks beyond the base definition (http://hl7.org/fhir/R4/profiling.html#slicing):
every discriminator type, slice cardinality, closed slicing, fixed/pattern values, maxLength,
extensions against their definitions, extensible bindings, mustSupport.

Profiles are registered in a Validator of the test's own (not the process-wide one). The US
Core cases need ../shared/igs (skipped with a message without it); the others use small
profiles derived here from the R4 base snapshots.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from fhir_server.conformance import read_package
from fhir_server.definitions import definitions
from fhir_server.errors import Issue
from fhir_server.resources.validation import Validator

US_CORE = Path(__file__).resolve().parents[3].parent / "shared" / "igs" / "us_core_610.tgz"
BP = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-blood-pressure"
US_PATIENT = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"
RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
EX = "http://example.org/fhir/StructureDefinition/"


def _findings(issues: list[Issue], severities: tuple[str, ...] = ("error",)) -> list[tuple[str, str, str]]:
    """(severity, location, message) of the issues that a profile (not the base) raised."""
    return [(i.severity, i.expression[0], i.diagnostics) for i in issues
            if i.severity in severities and "(profile " in i.diagnostics]


# --- US Core 6.1.0 --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def us_core() -> Validator:
    if not US_CORE.is_file():
        pytest.skip(f"US Core package not found at {US_CORE}")
    validator = Validator()
    for sd in read_package(US_CORE).of_type("StructureDefinition"):
        if "snapshot" in sd:
            validator.register(sd)
    return validator


def _component(code: str, value: int, unit: str = "mm[Hg]") -> dict[str, Any]:
    return {"code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "valueQuantity": {"value": value, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": unit}}


BLOOD_PRESSURE: dict[str, Any] = {
    "resourceType": "Observation", "status": "final",
    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                              "code": "vital-signs"}]}],
    "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
    "subject": {"reference": "Patient/p"}, "effectiveDateTime": "2024-01-01",
    "component": [_component("8480-6", 120), _component("8462-4", 80)]}


def test_a_conformant_blood_pressure_has_no_profile_issue(us_core: Validator) -> None:
    assert _findings(us_core.validate(BLOOD_PRESSURE, [BP]), ("error", "warning")) == []


def test_pattern_discriminator_finds_the_missing_component_slice(us_core: Validator) -> None:
    one = {**BLOOD_PRESSURE, "component": [_component("8480-6", 120)]}
    assert _findings(us_core.validate(one, [BP])) == [
        ("error", "Observation.component",
         f"slice 'diastolic' of Observation.component: at least 1 required, found 0 (profile {BP})")]


def test_fixed_value_inside_a_slice(us_core: Validator) -> None:
    wrong_unit = {**BLOOD_PRESSURE, "component": [_component("8480-6", 120, "mmHg"), _component("8462-4", 80)]}
    assert _findings(us_core.validate(wrong_unit, [BP])) == [
        ("error", "Observation.component[0].valueQuantity.code",
         f"Observation.component.value[x].code must be fixed value mm[Hg] (profile {BP})")]


def test_value_discriminator_on_two_paths_places_only_the_vital_signs_category(us_core: Validator) -> None:
    laboratory = copy.deepcopy(BLOOD_PRESSURE)
    laboratory["category"][0]["coding"][0]["code"] = "laboratory"
    assert _findings(us_core.validate(laboratory, [BP])) == [
        ("error", "Observation.category",
         f"slice 'VSCat' of Observation.category: at least 1 required, found 0 (profile {BP})")]


def test_pattern_on_an_unsliced_element(us_core: Validator) -> None:
    other_code = {**BLOOD_PRESSURE, "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}}
    findings = _findings(us_core.validate(other_code, [BP]))
    assert ("error", "Observation.code", "Observation.code must match pattern value {'coding': [{'system': "
            f"'http://loinc.org', 'code': '85354-9'}}]}} (profile {BP})") in findings


def _us_patient(**extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "identifier": [{"system": "urn:mrn", "value": "1"}],
            "name": [{"family": "Shaw"}], "gender": "female", **extra}


def _race(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"url": RACE, "extension": list(parts)}


OMB_WHITE = {"url": "ombCategory", "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": "2106-3"}}
TEXT = {"url": "text", "valueString": "White"}


def test_an_extension_is_checked_against_its_definition(us_core: Validator) -> None:
    assert _findings(us_core.validate(_us_patient(extension=[_race(OMB_WHITE, TEXT)]), [US_PATIENT])) == []
    without_text = _us_patient(extension=[_race(OMB_WHITE)])
    assert _findings(us_core.validate(without_text, [US_PATIENT])) == [
        ("error", "Patient.extension[0].extension",
         f"slice 'text' of Extension.extension: at least 1 required, found 0 (profile {RACE})")]


def test_a_sub_extension_with_a_value_type_its_definition_does_not_allow(us_core: Validator) -> None:
    text_as_code = {"url": "text", "valueCode": "white"}
    findings = _findings(us_core.validate(_us_patient(extension=[_race(OMB_WHITE, text_as_code)]), [US_PATIENT]))
    assert findings == [("error", "Patient.extension[0].extension[1].valueCode",
                         f"valueCode is not allowed here: the profile allows valueString (profile {RACE})")]


def test_an_unknown_extension_is_a_warning(us_core: Validator) -> None:
    unknown = {"url": "http://example.org/no-such-extension", "valueString": "x"}
    findings = _findings(us_core.validate(_us_patient(extension=[unknown]), [US_PATIENT]), ("error", "warning"))
    assert findings == [("warning", "Patient.extension[0]", "Extension http://example.org/no-such-extension is not "
                         f"known to this server: its value is not checked (profile {US_PATIENT})")]


def test_must_support_elements_are_reported_as_information_when_asked(us_core: Validator) -> None:
    patient = _us_patient()
    assert _findings(us_core.validate(patient, [US_PATIENT]), ("information",)) == []
    reported = _findings(us_core.validate(patient, [US_PATIENT], must_support=True), ("information",))
    assert ("information", "Patient.birthDate",
            f"mustSupport element 'birthDate' is absent (profile {US_PATIENT})") in reported
    assert all(location != "Patient.name" for _, location, _ in reported)  # present elements are not listed


# --- small profiles derived from the base snapshots ------------------------------------------------

def _derive(base_type: str, name: str, edit: dict[str, dict[str, Any]], add: list[tuple[str, dict[str, Any]]],
            kind: str = "resource") -> dict[str, Any]:
    """A constraint profile on ``base_type``: its base snapshot with edits by element id and
    elements added after a given id."""
    base = definitions().types[base_type]
    elements = []
    for element in copy.deepcopy(base["snapshot"]["element"]):
        element.setdefault("id", element["path"])
        element.update(edit.get(element["id"], {}))
        elements.append(element)
        elements.extend(copy.deepcopy(e) for after, e in add if after == element["id"])
    return {"resourceType": "StructureDefinition", "url": EX + name, "name": name, "type": base_type,
            "kind": kind, "derivation": "constraint", "baseDefinition": base["url"],
            "snapshot": {"element": elements}}


def _element(element_id: str, **facts: Any) -> dict[str, Any]:
    path = ".".join(part.split(":", 1)[0] for part in element_id.split("."))
    return {"id": element_id, "path": path, "min": 0, "max": "*", **facts}


@pytest.fixture(scope="module")
def derived() -> Validator:
    validator = Validator()
    contained_by_type = _derive(
        "Observation", "contained-by-type",
        {"Observation.contained": {"slicing": {"discriminator": [{"type": "type", "path": "$this"}],
                                               "rules": "closed"}}},
        [("Observation.contained", _element("Observation.contained:patient", sliceName="patient", max="1",
                                            type=[{"code": "Patient"}]))])
    component_by_exists = _derive(
        "Observation", "component-by-exists",
        {"Observation.component": {"slicing": {"discriminator": [{"type": "exists", "path": "value"}],
                                               "rules": "open"}}},
        [("Observation.component.modifierExtension", e) for e in (
            _element("Observation.component:measured", sliceName="measured", type=[{"code": "BackboneElement"}]),
            _element("Observation.component:measured.value[x]", min=1, max="1", type=[{"code": "Quantity"}]),
            _element("Observation.component:absent", sliceName="absent", type=[{"code": "BackboneElement"}]),
            _element("Observation.component:absent.value[x]", max="0", type=[{"code": "Quantity"}]),
            _element("Observation.component:absent.dataAbsentReason", min=1, max="1",
                     type=[{"code": "CodeableConcept"}]))])
    note_extension = _derive("Extension", "note-text", {
        "Extension.url": {"fixedUri": EX + "note-text"},
        "Extension.value[x]": {"min": 1, "type": [{"code": "string"}]}}, [], kind="complex-type")
    extension_by_profile = _derive(
        "Observation", "extension-by-profile",
        {"Observation.extension": {"slicing": {"discriminator": [{"type": "profile", "path": "$this"}],
                                               "rules": "open"}}},
        [("Observation.extension", _element("Observation.extension:note", sliceName="note", min=1, max="1",
                                            type=[{"code": "Extension", "profile": [EX + "note-text"]}]))])
    short_family = _derive("Patient", "short-family", {}, [("Patient.name", _element(
        "Patient.name.family", max="1", maxLength=5, type=[{"code": "string"}]))])
    code_extensible = _derive("Observation", "code-extensible", {"Observation.code": {"binding": {
        "strength": "extensible", "valueSet": "http://hl7.org/fhir/ValueSet/administrative-gender"}}}, [])
    for sd in (contained_by_type, component_by_exists, note_extension, extension_by_profile, short_family,
               code_extensible):
        validator.register(sd)
    return validator


OBSERVATION: dict[str, Any] = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}


def test_type_discriminator_with_closed_slicing(derived: Validator) -> None:
    url = EX + "contained-by-type"
    fine = {**OBSERVATION, "contained": [{"resourceType": "Patient", "id": "p"}],
            "subject": {"reference": "#p"}}
    assert _findings(derived.validate(fine, [url])) == []
    other = {**OBSERVATION, "contained": [{"resourceType": "Patient", "id": "p"},
                                          {"resourceType": "Practitioner", "id": "d"}],
             "subject": {"reference": "#p"}, "performer": [{"reference": "#d"}]}
    assert _findings(derived.validate(other, [url])) == [
        ("error", "Observation.contained[1]",
         f"Observation.contained matches none of the slices patient (closed slicing) (profile {url})")]
    two = {**OBSERVATION, "contained": [{"resourceType": "Patient", "id": "p"}, {"resourceType": "Patient", "id": "q"}],
           "subject": {"reference": "#p"}, "performer": [{"reference": "#q"}]}
    assert _findings(derived.validate(two, [url])) == [
        ("error", "Observation.contained",
         f"slice 'patient' of Observation.contained: at most 1 allowed, found 2 (profile {url})")]


def test_exists_discriminator_places_a_component_without_value_in_the_absent_slice(derived: Validator) -> None:
    url = EX + "component-by-exists"
    measured = {"code": {"text": "m"}, "valueQuantity": {"value": 1}}
    absent_ok = {"code": {"text": "a"}, "dataAbsentReason": {"text": "not done"}}
    assert _findings(derived.validate({**OBSERVATION, "component": [measured, absent_ok]}, [url])) == []
    absent_without_reason = {"code": {"text": "a"}}
    assert _findings(derived.validate({**OBSERVATION, "component": [measured, absent_without_reason]}, [url])) == [
        ("error", "Observation.component[1].dataAbsentReason",
         f"Observation.component.dataAbsentReason: at least 1 required, found 0 (profile {url})")]


def test_profile_discriminator_assigns_by_conformance(derived: Validator) -> None:
    url = EX + "extension-by-profile"
    good = {"url": EX + "note-text", "valueString": "hello"}
    assert _findings(derived.validate({**OBSERVATION, "extension": [good]}, [url])) == []
    # another extension (its definition unknown: a warning on a write) does not conform to note-text
    other = {"url": EX + "other-note", "valueString": "hello"}
    findings = _findings(derived.validate({**OBSERVATION, "extension": [other]}, [url]))
    assert ("error", "Observation.extension",
            f"slice 'note' of Observation.extension: at least 1 required, found 0 (profile {url})") in findings


def test_an_extensible_binding_warns_about_a_code_outside_the_value_set(derived: Validator) -> None:
    url = EX + "code-extensible"
    inside = {**OBSERVATION, "code": {"coding": [{"system": "http://hl7.org/fhir/administrative-gender",
                                                  "code": "other"}]}}
    assert _findings(derived.validate(inside, [url]), ("error", "warning")) == []
    outside = {**OBSERVATION, "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}}
    assert _findings(derived.validate(outside, [url]), ("error", "warning")) == [
        ("warning", "Observation.code", "None of the codings (http://loinc.org|8480-6) is in the extensible value "
         f"set http://hl7.org/fhir/ValueSet/administrative-gender (profile {url})")]


def test_max_length(derived: Validator) -> None:
    url = EX + "short-family"
    assert _findings(derived.validate({"resourceType": "Patient", "name": [{"family": "Shaw"}]}, [url])) == []
    long_name = {"resourceType": "Patient", "name": [{"family": "Montgomery"}]}
    assert _findings(derived.validate(long_name, [url])) == [
        ("error", "Patient.name[0].family", f"Patient.name.family is longer than 5 characters (profile {url})")]
