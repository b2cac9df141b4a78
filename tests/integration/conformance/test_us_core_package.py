"""US Core 6.1.0 installed into a profiles folder and served: `ig install`/`ig list`, the IG's
SearchParameters indexed and searchable, its profiles used by $validate.

The server runs as a user runs it (`fhir-server serve` in its own process), because IG content
is registered process-wide. Needs ../shared/igs (skipped with a message without it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

SHARED_IGS = Path(__file__).resolve().parents[3].parent / "shared" / "igs"
US_CORE_610 = SHARED_IGS / "us_core_610.tgz"
CLI = str(Path(sys.executable).parent / "fhir-server")
US_CORE_PATIENT = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"
RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"

pytestmark = pytest.mark.skipif(not US_CORE_610.is_file(), reason=f"US Core package not found at {US_CORE_610}")


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120, env=env, check=False)


@pytest.fixture(scope="module")
def profiles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("profiles")
    done = _run("ig", "install", str(US_CORE_610), "--no-deps", "--profiles-dir", str(folder))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "installed hl7.fhir.us.core@6.1.0" in done.stdout
    assert [p.name for p in folder.iterdir()] == ["hl7.fhir.us.core#6.1.0.tgz"]
    return folder


@pytest.fixture(scope="module")
def base(profiles: Path, database_url: str) -> Iterator[str]:
    yield from _serve(profiles, database_url, {})


@pytest.fixture(scope="module")
def strict_base(profiles: Path, database_url: str) -> Iterator[str]:
    """A hospital that requires US Core Patient and refuses profiles it does not know."""
    yield from _serve(profiles, database_url, {"FHIR_REQUIRED_PROFILES": f"Patient={US_CORE_PATIENT}",
                                                "FHIR_UNKNOWN_PROFILES": "reject"})


def _serve(profiles: Path, database_url: str, extra: dict[str, str]) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "FHIR_PROFILES_DIR": str(profiles), "FHIR_LOG_LEVEL": "warning", **extra}
    server = subprocess.Popen([CLI, "serve", "--auth", "off", "--database-url", database_url, "--port", str(port)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/fhir"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/metadata", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("the server did not start")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_ig_list_names_the_package_and_its_missing_dependencies(profiles: Path) -> None:
    done = _run("ig", "list", "--json", "--profiles-dir", str(profiles))
    assert done.returncode == 0
    listing = json.loads(done.stdout)
    assert [(p["name"], p["version"], p["file"]) for p in listing["packages"]] == [
        ("hl7.fhir.us.core", "6.1.0", "hl7.fhir.us.core#6.1.0.tgz")]
    assert listing["problems"] == []
    assert ("hl7.fhir.us.core@6.1.0 depends on hl7.terminology.r4@5.0.0, which is not installed: "
            "definitions it refers to may be missing") in listing["warnings"]


def test_installing_again_keeps_one_copy(profiles: Path) -> None:
    done = _run("ig", "install", str(US_CORE_610), "--no-deps", "--profiles-dir", str(profiles))
    assert done.returncode == 0
    assert [p.name for p in profiles.iterdir()] == ["hl7.fhir.us.core#6.1.0.tgz"]


def test_a_file_that_is_not_a_package_is_not_installed(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tgz"
    junk.write_bytes(b"nope")
    done = _run("ig", "install", str(junk), "--profiles-dir", str(tmp_path / "profiles"))
    assert done.returncode == 2
    assert "error: junk.tgz: not a readable .tgz package" in done.stdout
    assert not (tmp_path / "profiles").exists()


def _patient(pid: str, race_code: str | None) -> dict[str, object]:
    patient: dict[str, object] = {"resourceType": "Patient", "id": pid,
                                  "identifier": [{"system": "urn:mrn", "value": pid}],
                                  "name": [{"family": "Shaw", "given": ["Amy"]}], "gender": "female"}
    if race_code:
        patient["extension"] = [{"url": RACE, "extension": [
            {"url": "ombCategory", "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": race_code}},
            {"url": "text", "valueString": "race"}]}]
    return patient


def test_the_ig_search_parameter_race_is_indexed_and_searchable(base: str) -> None:
    for pid, race in (("uc-white", "2106-3"), ("uc-asian", "2028-9"), ("uc-none", None)):
        assert httpx.put(f"{base}/Patient/{pid}", json=_patient(pid, race)).status_code == 201
    found = httpx.get(f"{base}/Patient", params={"race": "2106-3", "_total": "accurate"}).json()
    assert [e["resource"]["id"] for e in found.get("entry", [])] == ["uc-white"]
    assert found["total"] == 1
    # The parameter's expression ends in .code (a code, no system), as US Core defines it.
    asian = httpx.get(f"{base}/Patient", params={"race": "2028-9"}).json()
    assert [e["resource"]["id"] for e in asian.get("entry", [])] == ["uc-asian"]


def test_validate_applies_the_us_core_patient_profile(base: str) -> None:
    no_identifier = {"resourceType": "Patient", "name": [{"family": "Shaw"}], "gender": "female"}
    answer = httpx.post(f"{base}/Patient/$validate", params={"profile": US_CORE_PATIENT}, json=no_identifier)
    assert answer.status_code == 200
    errors = [i for i in answer.json()["issue"] if i["severity"] == "error"]
    assert any("Patient.identifier" in " ".join(i.get("expression", [])) for i in errors), errors
    fine = httpx.post(f"{base}/Patient/$validate", params={"profile": US_CORE_PATIENT}, json=_patient("x", None))
    assert [i for i in fine.json()["issue"] if i["severity"] == "error"] == []
    claimed = httpx.post(f"{base}/Patient/$validate", json={**no_identifier, "meta": {"profile": [US_CORE_PATIENT]}})
    assert any("Patient.identifier" in " ".join(i.get("expression", [])) for i in claimed.json()["issue"]
               if i["severity"] == "error")
    versioned = httpx.post(f"{base}/Patient/$validate", params={"profile": f"{US_CORE_PATIENT}|6.1.0"},
                           json=no_identifier)
    assert any(i["severity"] == "error" for i in versioned.json()["issue"])


def test_the_capability_statement_declares_the_guide_its_profiles_and_parameters(base: str) -> None:
    statement = httpx.get(f"{base}/metadata").json()
    assert statement["implementationGuide"] == ["http://hl7.org/fhir/us/core/ImplementationGuide/hl7.fhir.us.core|6.1.0"]
    assert statement["instantiates"] == ["http://hl7.org/fhir/us/core/CapabilityStatement/us-core-server|6.1.0"]
    patient = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
    assert f"{US_CORE_PATIENT}|6.1.0" in patient["supportedProfile"]
    assert "race" in {p["name"] for p in patient["searchParam"]}
    observation = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Observation")
    blood_pressure = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-blood-pressure|6.1.0"
    assert blood_pressure in observation["supportedProfile"]


def _errors(response: httpx.Response) -> list[str]:
    return [" ".join(i.get("expression", [])) for i in response.json()["issue"] if i["severity"] == "error"]


def test_a_claimed_profile_is_enforced_on_writes(base: str) -> None:
    no_identifier = {"resourceType": "Patient", "meta": {"profile": [US_CORE_PATIENT]},
                     "name": [{"family": "Shaw"}], "gender": "female"}
    refused = httpx.post(f"{base}/Patient", json=no_identifier)
    assert refused.status_code == 422, refused.text
    assert "Patient.identifier" in _errors(refused)
    unknown = {**_patient("claims-unknown", None), "meta": {"profile": ["http://example.org/no-such-profile"]}}
    unknown.pop("id")
    assert httpx.post(f"{base}/Patient", json=unknown).status_code == 201  # unknown: a warning by default


def test_required_profiles_and_unknown_profiles_refused_when_configured(strict_base: str) -> None:
    plain = {"resourceType": "Patient", "name": [{"family": "Shaw"}], "gender": "female"}
    refused = httpx.post(f"{strict_base}/Patient", json=plain)  # claims nothing: US Core is required anyway
    assert refused.status_code == 422, refused.text
    assert "Patient.identifier" in _errors(refused)
    ok = {**plain, "identifier": [{"system": "urn:mrn", "value": "strict-1"}]}
    assert httpx.post(f"{strict_base}/Patient", json=ok).status_code == 201
    unknown = {**ok, "meta": {"profile": ["http://example.org/no-such-profile"]}}
    answer = httpx.post(f"{strict_base}/Patient", json=unknown)
    assert answer.status_code == 422
    assert any(i["diagnostics"] == "Profile http://example.org/no-such-profile is not known to this server"
               for i in answer.json()["issue"])
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}
    assert httpx.post(f"{strict_base}/Observation", json=observation).status_code == 201  # no rule for the type
