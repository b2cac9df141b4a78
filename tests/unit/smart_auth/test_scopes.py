"""Scope parsing and matching against SMART App Launch 2.2 "Scopes and Launch Context"
(https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html). Expected values
come from the spec's tables and examples."""

from __future__ import annotations

import pytest

from fhir_server.smart_auth.scopes import ScopeSet, narrow_to_allowed, parse_scope, parse_scopes, scope_covers

LAB = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
VITALS = "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"


@pytest.mark.parametrize("text, context, rtype, letters", [
    ("patient/Observation.rs", "patient", "Observation", "rs"),
    ("user/*.cruds", "user", "*", "cruds"),
    ("system/Patient.r", "system", "Patient", "r"),
    ("patient/Encounter.cud", "patient", "Encounter", "cud"),
    ("patient/*.s", "patient", "*", "s"),
    # v1 -> v2 equivalences from the spec's "Scope equivalence" table
    ("patient/Observation.read", "patient", "Observation", "rs"),
    ("user/*.write", "user", "*", "cud"),
    ("user/*.*", "user", "*", "cruds"),
    ("system/Patient.*", "system", "Patient", "cruds"),
])
def test_resource_scopes(text: str, context: str, rtype: str, letters: str) -> None:
    scope = parse_scope(text)
    assert scope is not None
    assert (scope.context, scope.resource_type, scope.interactions, scope.query) == (
        context, rtype, frozenset(letters), ())
    assert scope.v1 == (text.endswith((".read", ".write", ".*")))


@pytest.mark.parametrize("text", [
    "patient/Observation.sr",  # letters must keep the c r u d s order
    "patient/Observation.rr", "patient/Observation.", "patient/Observation.x", "patient/Observation",
    "practitioner/Observation.rs", "patient/observation.rs", "openid", "launch/patient", "",
    "patient/Observation.read?category=laboratory",  # granular filters exist only in v2
    "patient/Observation.rs?",
])
def test_not_resource_scopes(text: str) -> None:
    assert parse_scope(text) is None


def test_granular_scope() -> None:
    scope = parse_scope(f"patient/Observation.rs?category={LAB}")
    assert scope is not None
    assert scope.query == (("category", LAB),)
    two = parse_scope("patient/Observation.rs?code=http://loinc.org|1234-5&category=x")
    assert two is not None and two.query == (("category", "x"), ("code", "http://loinc.org|1234-5"))


def test_identity_and_launch_scopes() -> None:
    scopes = parse_scopes("openid fhirUser launch launch/patient offline_access patient/*.rs")
    assert scopes.has("openid") and scopes.has("fhirUser") and scopes.has("launch/patient")
    assert scopes.wants_id_token and scopes.wants_refresh_token
    assert not parse_scopes("openid patient/*.rs").wants_id_token
    assert parse_scopes("online_access").wants_refresh_token
    assert scopes.contexts() == {"patient"}


ALLOWS_MATRIX = [
    # scope string, context, type, interaction, expected
    ("patient/Observation.rs", "patient", "Observation", "r", True),
    ("patient/Observation.rs", "patient", "Observation", "s", True),
    ("patient/Observation.rs", "patient", "Observation", "c", False),
    ("patient/Observation.rs", "patient", "Condition", "r", False),
    ("patient/Observation.rs", "user", "Observation", "r", False),
    ("patient/Observation.rs", None, "Observation", "r", True),
    ("user/*.cruds", "user", "Condition", "d", True),
    ("user/*.cruds", "patient", "Condition", "d", False),
    ("patient/*.read", "patient", "MedicationRequest", "s", True),
    ("patient/*.read", "patient", "MedicationRequest", "u", False),
    ("patient/*.write", "patient", "MedicationRequest", "c", True),
    ("patient/*.write", "patient", "MedicationRequest", "u", True),
    ("patient/*.write", "patient", "MedicationRequest", "d", True),
    ("patient/*.write", "patient", "MedicationRequest", "r", False),
    ("user/*.*", "user", "Patient", "u", True),
    ("system/*.rs", "system", "Patient", "r", True),
    ("system/*.rs", "system", "Patient", "c", False),
    ("patient/Observation.rs?category=x", "patient", "Observation", "r", True),
    ("openid fhirUser", "patient", "Patient", "r", False),
]


@pytest.mark.parametrize("text, context, rtype, interaction, expected", ALLOWS_MATRIX)
def test_allows(text: str, context: str | None, rtype: str, interaction: str, expected: bool) -> None:
    assert parse_scopes(text).allows(context, rtype, interaction) is expected


def test_filters_for() -> None:
    lab_only = parse_scopes(f"patient/Observation.rs?category={LAB}")
    assert lab_only.filters_for("Observation", "s") == [[("category", LAB)]]
    assert lab_only.filters_for("Observation", "c") == []  # nothing matches: deny
    assert lab_only.filters_for("Condition", "r") == []
    two = parse_scopes(f"patient/Observation.rs?category={LAB} patient/Observation.rs?category={VITALS}")
    assert two.filters_for("Observation", "r") == [[("category", LAB)], [("category", VITALS)]]
    # An unrestricted scope for the same access makes the filters irrelevant.
    assert parse_scopes(f"patient/Observation.rs?category={LAB} patient/*.rs").filters_for("Observation", "r") is None
    assert parse_scopes(f"patient/Observation.rs?category={LAB} patient/*.c").filters_for("Observation", "r") == [
        [("category", LAB)]]
    assert parse_scopes("user/*.rs").filters_for("Observation", "r", "patient") == []
    assert parse_scopes("user/*.rs").filters_for("Observation", "r", "user") is None
    assert ScopeSet.everything().filters_for("Observation", "d") is None


def test_everything_allows_all() -> None:
    everything = ScopeSet.everything()
    assert everything.allows("patient", "Patient", "d") and everything.allows(None, "AuditEvent", "c")


def test_coverage() -> None:
    granted = parse_scope("patient/*.rs")
    assert granted is not None
    for text, covered in [("patient/Observation.rs", True), ("patient/Observation.read", True),
                          ("patient/Observation.r", True), ("patient/Observation.cruds", False),
                          ("user/Observation.rs", False), (f"patient/Observation.rs?category={LAB}", True)]:
        requested = parse_scope(text)
        assert requested is not None
        assert scope_covers(granted, requested) is covered, text
    lab = parse_scope(f"patient/Observation.rs?category={LAB}")
    assert lab is not None
    unfiltered = parse_scope("patient/Observation.rs")
    assert unfiltered is not None and not scope_covers(lab, unfiltered)


def test_narrow_to_allowed() -> None:
    registered = "launch openid fhirUser patient/*.rs offline_access"
    assert narrow_to_allowed("openid fhirUser patient/Observation.read user/*.rs profile", registered) == [
        "openid", "fhirUser", "patient/Observation.read"]
    assert narrow_to_allowed("offline_access offline_access junk", registered) == ["offline_access"]
    assert narrow_to_allowed(None, registered) == []
