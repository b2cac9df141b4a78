"""Pure parts of smart_auth: discovery URLs, the rest.security element, token claim checks,
the access context built from claims, page escaping, hashing, and the public surface."""

from __future__ import annotations

import argparse
import time

import pytest

import fhir_server.smart_auth as smart_auth
from fhir_server.smart_auth.cli import add_commands
from fhir_server.smart_auth.dependencies import context_from_claims
from fhir_server.smart_auth.discovery import security_component, smart_configuration, urls_for
from fhir_server.smart_auth.hashing import argv_safe, digest, digest_matches, hash_password, verify_password
from fhir_server.smart_auth.keys import InvalidToken
from fhir_server.smart_auth.pages import consent_body, describe_scope, login_body, patient_body
from fhir_server.smart_auth.patient_card import PatientCard
from fhir_server.smart_auth.tokens import check_access_claims

BASE = "https://ehr.example.org/fhir"


def test_urls_sit_beside_the_fhir_base() -> None:
    urls = urls_for(BASE)
    assert urls.issuer == BASE and urls.token == "https://ehr.example.org/auth/token"
    proxied = urls_for("https://ehr.example.org/prefix/fhir/")
    assert proxied.issuer == "https://ehr.example.org/prefix/fhir"
    assert proxied.authorize == "https://ehr.example.org/prefix/auth/authorize"
    assert urls_for("https://ehr.example.org/r4").jwks == "https://ehr.example.org/auth/jwks"


def test_security_component_shape() -> None:
    security = security_component(BASE)
    ext = security["extension"][0]
    assert ext["url"] == "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
    assert [e["url"] for e in ext["extension"]] == ["authorize", "token", "introspect", "revoke"]
    assert security["service"][0]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR",
        "display": "SMART-on-FHIR"}


def test_smart_configuration_only_s256() -> None:
    config = smart_configuration(BASE)
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert "authorize-post" in config["capabilities"] and "sso-openid-connect" in config["capabilities"]


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {"iss": BASE, "aud": BASE, "exp": now + 60, "iat": now, "jti": "j",
                                 "client_id": "c"}
    claims.update(overrides)
    return claims


@pytest.mark.parametrize("overrides, message", [
    ({"iss": "https://other/fhir"}, "another server"), ({"aud": "https://other/fhir"}, "another audience"),
    ({"exp": 1}, "expired"), ({"iat": int(time.time()) + 3600}, "not valid yet"), ({"jti": None}, "jti"),
    ({"aud": "client-id"}, "audience"), ({"exp": "soon"}, "exp"),
])
def test_check_access_claims_refuses(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidToken, match=message):
        check_access_claims(_claims(**overrides), BASE)


def test_check_access_claims_accepts_list_audience_and_skips_time_when_asked() -> None:
    check_access_claims(_claims(aud=[BASE, "x"]), BASE)
    check_access_claims(_claims(exp=1, iat=0), BASE, check_time=False)


def test_context_from_claims() -> None:
    ctx = context_from_claims(_claims(scope="patient/*.rs launch", patient="p1",
                                      fhirUser=f"{BASE}/Practitioner/9"), BASE)
    assert (ctx.kind, ctx.patient, ctx.user, ctx.client_id) == ("patient", "p1", "Practitioner/9", "c")
    assert ctx.can("Observation", "r") and not ctx.can("Observation", "c")
    assert context_from_claims(_claims(scope="system/*.rs"), BASE).kind == "system"
    assert context_from_claims(_claims(scope="patient/*.rs user/*.rs"), BASE).kind == "user"
    assert smart_auth.DEV_CONTEXT.can("AuditEvent", "d") and smart_auth.DEV_CONTEXT.kind == "dev"


def test_pages_escape_everything() -> None:
    evil = '<script>alert(1)</script>"'
    page = login_body("/auth/login", evil, evil, evil, error=evil)
    assert "<script>" not in page and "&lt;script&gt;" in page
    consent = consent_body("/auth/consent", "r", "c", evil, [f"patient/Observation.rs?code={evil}"],
                           patient=PatientCard(evil, evil, evil, evil))
    assert "<script>" not in consent
    picker = patient_body("/auth/patient", "r", "c", evil, cards=[PatientCard(evil, evil, evil, evil)], query=evil,
                          page=2, has_more=True)
    assert "<script>" not in picker and "&lt;script&gt;" in picker


def test_describe_scope() -> None:
    assert describe_scope("patient/Observation.rs") == "Read, search Observation records of the selected patient"
    assert describe_scope("user/*.cud") == "Create, update, delete all data you can access"
    assert describe_scope("offline_access") == "Keep access when you are not using the app"


def test_hashing() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2id$") and verify_password(stored, "correct horse")
    assert not verify_password(stored, "wrong") and not verify_password("not-a-hash", "x")
    assert digest_matches(digest("s3cret"), "s3cret") and not digest_matches(digest("s3cret"), "other")


def test_generated_ids_are_safe_command_line_arguments() -> None:
    # A key id (RFC 7638 thumbprint) or client id starting with '-' was read as an option by
    # `fhir-server keys retire KID`; one in 64 generated values did.
    assert argv_safe("-Xy_z") == "_-Xy_z"
    assert argv_safe("Xy-z") == "Xy-z"
    assert argv_safe("_-a") == "_-a"
    parser = argparse.ArgumentParser(prog="fhir-server")
    add_commands(parser.add_subparsers(dest="command"), lambda p: None, lambda a: "")
    assert parser.parse_args(["keys", "retire", "_-Xy_z"]).kid == "_-Xy_z"
    assert parser.parse_args(["keys", "retire", "--", "-Xy_z"]).kid == "-Xy_z"


def test_public_surface() -> None:
    for name in smart_auth.__all__:
        assert hasattr(smart_auth, name), name
    assert {"router", "startup", "security_component", "SmartContext", "add_commands", "demo_setup",
            "cors_headers"} <= set(smart_auth.__all__)
