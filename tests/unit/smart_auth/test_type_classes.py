"""Every R4 resource type has exactly one class in ``smart_auth.type_classes`` (the README's
"Who sees what" table), and the write rule keeps only the subject parameters."""

from __future__ import annotations

import re
from pathlib import Path

from fhir_server.definitions import definitions
from fhir_server.search.compartment import compartment_params, patient_compartment_types
from fhir_server.smart_auth.type_classes import (
    NARROWED_PARAMS,
    NARROWED_TYPES,
    PUBLIC_TYPES,
    RESTRICTED_TYPES,
    subject_params,
    type_class,
)

README = Path(__file__).parents[3] / "README.md"


def test_every_r4_type_is_classified_exactly_once() -> None:
    compartment = patient_compartment_types()
    classes = [set(compartment), set(PUBLIC_TYPES), set(NARROWED_TYPES), set(RESTRICTED_TYPES)]
    all_types = set(definitions().resource_types)
    assert len(all_types) == 146
    assert sum(len(c) for c in classes) == 146  # disjoint ...
    assert set().union(*classes) == all_types  # ... and complete
    assert len(compartment) == 66 and set(NARROWED_PARAMS) <= set(NARROWED_TYPES)


def test_readme_table_matches_the_code() -> None:
    text = README.read_text()
    rows = dict(re.findall(r"^\| (public|narrowed|restricted) \| (.+) \|$", text, re.M))
    assert set(rows["public"].split(", ")) == PUBLIC_TYPES
    assert set(rows["restricted"].split(", ")) == RESTRICTED_TYPES
    after = text.split("<!-- narrowed -->")[1].lstrip("\n")
    table = after[:after.index("\n\n")]  # the table right after the marker, up to its blank line
    narrowed = dict(re.findall(r"^\| ([A-Za-z]+) \| (.+) \|$", table, re.M))
    assert set(narrowed) - {"Type"} == set(NARROWED_TYPES)


def test_writes_count_only_subject_parameters() -> None:
    assert subject_params("Observation", compartment_params("Patient", "Observation")) == ("subject",)
    assert subject_params("Condition", compartment_params("Patient", "Condition")) == ("patient",)
    assert subject_params("Coverage", compartment_params("Patient", "Coverage")) == ("subscriber", "beneficiary")
    assert subject_params("Patient", compartment_params("Patient", "Patient")) == ()
    assert subject_params("Appointment", compartment_params("Patient", "Appointment")) == ("actor",)
    assert type_class("Practitioner") == "public" and type_class("Bundle") == "restricted"
    assert type_class("Binary") == "narrowed" and type_class("Observation") == "compartment"
