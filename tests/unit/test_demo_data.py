"""The demo data set: valid for the server's own validator, clinically coherent (the vital
signs profile's codes and units, BMI from the same visit's weight and height, blood pressure
that falls once hypertension is treated), self-contained references, the documented ids."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from fhir_server.definitions import definitions
from fhir_server.demo import demo_bundle, demo_resources
from fhir_server.resources.validation import validate_resource

UNITS = {"29463-7": "kg", "8302-2": "cm", "39156-5": "kg/m2", "8867-4": "/min"}
RESOURCES = demo_resources()
BY_ID = {(r["resourceType"], r["id"]): r for r in RESOURCES}


def _references(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return own + [ref for v in value.values() for ref in _references(v)]
    if isinstance(value, list):
        return [ref for v in value for ref in _references(v)]
    return []


def test_every_resource_passes_the_servers_validation() -> None:
    definitions()
    problems = {f"{r['resourceType']}/{r['id']}": validate_resource(r) for r in RESOURCES}
    assert {ref: issues for ref, issues in problems.items() if issues} == {}


def test_the_set_is_deterministic_with_unique_ids_and_local_references() -> None:
    assert demo_resources() == RESOURCES
    assert len(BY_ID) == len(RESOURCES)
    dangling = {ref for r in RESOURCES for ref in _references(r) if tuple(ref.split("/")) not in BY_ID}
    assert dangling == set()


def test_the_documented_ids_exist() -> None:
    for ref in ("Patient/demo-patient", "Practitioner/demo-practitioner", "Organization/demo-hospital",
                "Encounter/demo-encounter", "Observation/demo-bp", "Condition/demo-condition",
                "MedicationRequest/demo-medrequest", "Appointment/demo-appointment"):
        assert tuple(ref.split("/")) in BY_ID, ref
    amy = BY_ID[("Patient", "demo-patient")]
    assert (amy["name"][0]["family"], amy["birthDate"]) == ("Shaw", "1987-02-20")


def test_the_shape_of_the_hospital() -> None:
    counts = Counter(r["resourceType"] for r in RESOURCES)
    assert counts["Patient"] == 10 and counts["Practitioner"] == counts["PractitionerRole"] == 3
    assert counts["Organization"] == 3  # the hospital and two departments
    assert {r["partOf"]["reference"] for r in RESOURCES if r["resourceType"] == "Organization" and "partOf" in r} \
        == {"Organization/demo-hospital"}
    amy_observations = [r for r in RESOURCES if r["resourceType"] == "Observation"
                        and r["subject"]["reference"] == "Patient/demo-patient"]
    assert len(amy_observations) == 80  # 16 quarterly visits 2023-2026, five vital signs each: four pages of 20


def test_demo_bp_is_a_blood_pressure_panel() -> None:
    bp = BY_ID[("Observation", "demo-bp")]
    assert bp["code"]["coding"][0]["code"] == "85354-9" and "valueQuantity" not in bp
    assert [(c["code"]["coding"][0]["code"], c["valueQuantity"]["system"], c["valueQuantity"]["code"])
            for c in bp["component"]] == [("8480-6", "http://unitsofmeasure.org", "mm[Hg]"),
                                          ("8462-4", "http://unitsofmeasure.org", "mm[Hg]")]
    assert bp["encounter"] == {"reference": "Encounter/demo-encounter"}


def test_vital_signs_use_loinc_and_ucum_with_plausible_values() -> None:
    for r in (r for r in RESOURCES if r["resourceType"] == "Observation"):
        assert r["category"][0]["coding"][0]["code"] == "vital-signs"
        coding = r["code"]["coding"][0]
        assert coding["system"] == "http://loinc.org"
        if coding["code"] == "85354-9":
            systolic, diastolic = (c["valueQuantity"]["value"] for c in r["component"])
            assert 90 <= systolic <= 160 and 55 <= diastolic <= 100 and systolic > diastolic + 20
            continue
        quantity = r["valueQuantity"]
        assert (quantity["system"], quantity["code"]) == ("http://unitsofmeasure.org", UNITS[coding["code"]])
        low, high = {"29463-7": (45, 120), "8302-2": (150, 190), "39156-5": (17, 35), "8867-4": (55, 110)}[
            coding["code"]]
        assert low <= quantity["value"] <= high, r


@pytest.mark.parametrize("patient", ["demo-patient", "demo-patient-02", "demo-patient-09"])
def test_bmi_is_the_same_visits_weight_over_height_squared(patient: str) -> None:
    visits: dict[str, dict[str, float]] = {}
    for r in RESOURCES:
        if r["resourceType"] == "Observation" and r["subject"]["reference"] == f"Patient/{patient}" \
                and "valueQuantity" in r:
            visits.setdefault(r["encounter"]["reference"], {})[r["code"]["coding"][0]["code"]] = \
                r["valueQuantity"]["value"]
    assert visits
    for values in visits.values():
        assert abs(values["39156-5"] - values["29463-7"] / (values["8302-2"] / 100) ** 2) < 0.051


def test_amys_blood_pressure_falls_once_lisinopril_starts() -> None:
    started = BY_ID[("MedicationRequest", "demo-medrequest")]["authoredOn"]
    assert BY_ID[("MedicationRequest", "demo-medrequest")]["medicationCodeableConcept"]["coding"][0]["code"] \
        == "314076"
    readings = [(r["effectiveDateTime"][:10], r["component"][0]["valueQuantity"]["value"]) for r in RESOURCES
                if r["resourceType"] == "Observation" and r["subject"]["reference"] == "Patient/demo-patient"
                and r["code"]["coding"][0]["code"] == "85354-9"]
    before = [s for day, s in readings if day < started]
    after = [s for day, s in readings if day >= started]
    # visits on the 2nd of Feb, May, Aug, Nov 2023-2026; lisinopril from 2024-05-31 (onset + 30 days)
    assert started == "2024-05-31" and len(before) == 6 and len(after) == 10
    assert min(before) >= 140 and max(after) <= 135


def test_the_bundle_is_a_transaction_of_puts() -> None:
    bundle = demo_bundle()
    assert bundle["type"] == "transaction" and len(bundle["entry"]) == len(RESOURCES)
    assert {e["request"]["method"] for e in bundle["entry"]} == {"PUT"}
    assert len({e["fullUrl"] for e in bundle["entry"]}) == len(RESOURCES)
    assert bundle["entry"][0]["request"]["url"] == "Organization/demo-hospital"


def _npi_check_digit_ok(npi: str) -> bool:
    """The Luhn check over the card-issuer prefix 80840 and the ten digits (CMS NPI standard)."""
    total = 0
    for position, char in enumerate(reversed("80840" + npi)):
        digit = int(char) * (2 if position % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


def test_npis_are_well_formed() -> None:
    npis = [i["value"] for r in RESOURCES for i in r.get("identifier", [])
            if i.get("system") == "http://hl7.org/fhir/sid/us-npi"]
    assert len(npis) == 4 and len(set(npis)) == 4  # the hospital and three clinicians
    assert all(len(n) == 10 and n[0] in "12" and _npi_check_digit_ok(n) for n in npis), npis
