"""Role caps (smart_auth/roles.py), verification tokens and the password policy (accounts/): pure parts."""

from __future__ import annotations

import pytest

from fhir_server.accounts import verification
from fhir_server.accounts.password_policy import password_problem
from fhir_server.smart_auth.roles import cap_scopes

VITALS = "user/Observation.cu?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"


@pytest.mark.parametrize(("offered", "caps", "expected"), [
    # A wildcard request is cut down to each cap.
    (["user/*.cruds"], ["user/*.rs", "user/Encounter.cu", VITALS], ["user/*.rs", "user/Encounter.cu", VITALS]),
    # A request the cap covers keeps the client's wording (v1 too).
    (["user/Patient.read"], ["user/*.rs"], ["user/Patient.read"]),
    # Letters are intersected; nothing shared drops the scope.
    (["user/Condition.cruds", "user/Claim.rs"], ["user/Condition.rs"], ["user/Condition.rs"]),
    # Contexts never mix: a patient/ cap gives nothing to a user/ request.
    (["user/*.rs"], ["patient/*.rs"], []),
    # Identity and launch scopes are not resource access: unchanged.
    (["openid", "fhirUser", "launch/patient", "offline_access"], [], ["openid", "fhirUser", "launch/patient",
                                                                      "offline_access"]),
    # Both filters hold: a granular request under a granular cap is the AND of their parameters.
    (["user/Observation.rs?status=final"], ["user/Observation.rs?category=vital-signs"],
     ["user/Observation.rs?status=final&category=vital-signs"]),
    # A scope another result covers is dropped.
    (["user/*.rs", "user/Patient.rs"], ["user/*.rs"], ["user/*.rs"]),
])
def test_cap_scopes(offered: list[str], caps: list[str], expected: list[str]) -> None:
    assert cap_scopes(offered, caps) == expected


def test_verification_token_round_trip_and_expiry() -> None:
    key = b"k" * 32
    token = verification.sign(key, "p-123", 60, now=1_000_000)
    assert token.startswith("p-123.1000060.")
    assert verification.check(key, token, now=1_000_059) == "p-123"
    assert verification.check(key, token, now=1_000_060) is None  # expired
    assert verification.check(b"x" * 32, token, now=1_000_000) is None  # another key
    forged = token.replace("p-123", "p-124")
    assert verification.check(key, forged, now=1_000_000) is None
    assert verification.check(key, "junk", now=1_000_000) is None


@pytest.mark.parametrize(("password", "ok"), [("Abcdefghijk1", True), ("abcdefghijk", False),
                                              ("abcdefghijkl", False), ("ABCDEFGHIJKLM", False),
                                              ("123456789012", False), ("!!!!!!!!!!!!", False),
                                              ("abcdefghijk!", True)])
def test_password_policy(password: str, ok: bool) -> None:
    assert (password_problem(password) is None) is ok
