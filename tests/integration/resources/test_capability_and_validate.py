"""/metadata and $validate (http.html#capabilities, resource-operation-validate.html)."""

from __future__ import annotations

import httpx

from fhir_server.definitions import definitions
from fhir_server.resources.validation import validate_resource


def test_capability_statement(client: httpx.Client) -> None:
    response = client.get("/metadata")
    assert response.status_code == 200
    statement = response.json()
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["kind"] == "instance"
    rest = statement["rest"][0]
    types = {r["type"] for r in rest["resource"]}
    assert types == set(definitions().resource_types) and len(types) == 146
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    codes = {i["code"] for i in patient["interaction"]}
    assert codes == {"read", "vread", "update", "patch", "delete", "history-instance", "history-type",
                     "create", "search-type"}
    assert patient["conditionalCreate"] is True and patient["conditionalDelete"] == "multiple"
    assert {i["code"] for i in rest["interaction"]} >= {"history-system"}
    errors = [i for i in validate_resource(statement) if i.severity in ("error", "fatal")]
    assert errors == []


def test_validate_type_level_valid_and_invalid(client: httpx.Client) -> None:
    ok = client.post("/Patient/$validate", json={"resourceType": "Patient", "gender": "female"})
    assert ok.status_code == 200
    # Valid: no error issues; the dom-6 best-practice warning (no narrative) is expected.
    assert [(i["severity"], i["code"]) for i in ok.json()["issue"]] == [("warning", "invariant")]
    narrated = {"resourceType": "Patient", "gender": "female", "text": {
        "status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">Jane</div>'}}
    clean = client.post("/Patient/$validate", json=narrated).json()["issue"]
    assert [(i["severity"], i["code"]) for i in clean] == [("information", "informational")]
    bad = client.post("/Patient/$validate", json={"resourceType": "Patient", "gender": "femme"})
    assert bad.status_code == 200
    errors = [i for i in bad.json()["issue"] if i["severity"] == "error"]
    assert errors and errors[0]["expression"] == ["Patient.gender"]


def test_validate_parameters_with_mode(client: httpx.Client) -> None:
    rid = client.post("/Patient", json={"resourceType": "Patient"}).json()["id"]
    update_mode = {"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": {"resourceType": "Patient", "id": "other"}},
        {"name": "mode", "valueCode": "update"}]}
    mismatch = client.post(f"/Patient/{rid}/$validate", json=update_mode).json()
    assert any(i["severity"] == "error" for i in mismatch["issue"])
    delete_mode = {"resourceType": "Parameters", "parameter": [{"name": "mode", "valueCode": "delete"}]}
    assert client.post(f"/Patient/{rid}/$validate", json=delete_mode).status_code == 200
    assert client.post("/Patient/missing-one/$validate", json=delete_mode).status_code == 404
    bad_mode = {"resourceType": "Parameters", "parameter": [{"name": "mode", "valueCode": "destroy"}]}
    assert client.post(f"/Patient/{rid}/$validate", json=bad_mode).status_code == 400


def test_validate_with_unknown_profile_warns(client: httpx.Client) -> None:
    params = {"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": {"resourceType": "Patient"}},
        {"name": "profile", "valueUri": "http://example.org/StructureDefinition/unknown"}]}
    issues = client.post("/Patient/$validate", json=params).json()["issue"]
    assert any(i["severity"] == "warning" for i in issues)


def test_a_parameters_resource_is_validated_itself_when_it_is_not_the_operation_input(client: httpx.Client) -> None:
    """A Parameters carrying a reference and a transaction Bundle (the reference validator's
    valid cases): Parameters/$validate validates it, rather than looking for a `resource` input."""
    narrative = {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">P</div>'}
    carried = {"resourceType": "Parameters", "parameter": [
        {"name": "subject", "valueReference": {"reference": "Patient/123"}},
        {"name": "bundle", "resource": {"resourceType": "Bundle", "type": "transaction", "entry": [
            {"fullUrl": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
             "resource": {"resourceType": "Patient", "text": narrative,
                          "managingOrganization": {"reference": "Organization/1"}},
             "request": {"method": "POST", "url": "Patient"}}]}}]}
    answer = client.post("/Parameters/$validate", json=carried)
    assert answer.status_code == 200
    assert [(i["severity"], i["code"]) for i in answer.json()["issue"]] == [("information", "informational")]
    wrong = {"resourceType": "Parameters", "parameter": [{"name": "subject", "valueBoolean": "yes"}]}
    errors = [i for i in client.post("/Parameters/$validate", json=wrong).json()["issue"] if i["severity"] == "error"]
    assert errors and errors[0]["expression"] == ["Parameters.parameter[0].valueBoolean"]
    # Wrapped as the operation's input, the same Parameters is validated the same way.
    wrapped = {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": carried}]}
    assert [i["severity"] for i in client.post("/Parameters/$validate", json=wrapped).json()["issue"]] == [
        "information"]
    # Other types keep reading a Parameters body as the operation's input.
    assert client.post("/Patient/$validate", json=carried).status_code == 400
