"""The CapabilityStatement tells the truth (http://hl7.org/fhir/R4/capabilitystatement.html):
every declared interaction and operation answers, every served ``$operation`` route is declared,
operations appear only on the types that serve them, and an operation on another type is a
clear ``not-supported`` rather than "Unknown resource type"."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from fhir_server.app import create_app
from fhir_server.config import Settings
from fhir_server.definitions import definitions

ASYNC = {"Prefer": "respond-async"}
Call = Callable[[httpx.Client, str], httpx.Response]


@pytest.fixture(scope="module")
def statement(client: httpx.Client) -> dict[str, Any]:
    response = client.get("/metadata")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture(scope="module")
def patient_id(client: httpx.Client) -> str:
    return str(client.post("/Patient", json={"resourceType": "Patient", "gender": "male"}).json()["id"])


def _bundle(kind: str) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": [
        {"resource": {"resourceType": "Basic", "code": {"text": kind}}, "request": {"method": "POST", "url": "Basic"}}]}


SYSTEM_INTERACTIONS: dict[str, Callable[[httpx.Client], httpx.Response]] = {
    "transaction": lambda c: c.post("/", json=_bundle("transaction")),
    "batch": lambda c: c.post("/", json=_bundle("batch")),
    "history-system": lambda c: c.get("/_history"),
    "search-system": lambda c: c.get("/", params={"_type": "Patient"}),
}
PATIENT_INTERACTIONS: dict[str, Call] = {
    "read": lambda c, pid: c.get(f"/Patient/{pid}"),
    "vread": lambda c, pid: c.get(f"/Patient/{pid}/_history/1"),
    "update": lambda c, pid: c.put(f"/Patient/{pid}", json={"resourceType": "Patient", "id": pid}),
    "patch": lambda c, pid: c.patch(f"/Patient/{pid}", content=b'[{"op":"add","path":"/active","value":true}]',
                                    headers={"Content-Type": "application/json-patch+json"}),
    "history-instance": lambda c, pid: c.get(f"/Patient/{pid}/_history"),
    "history-type": lambda c, pid: c.get("/Patient/_history"),
    "create": lambda c, pid: c.post("/Patient", json={"resourceType": "Patient"}),
    "search-type": lambda c, pid: c.get("/Patient", params={"_id": pid}),
    "delete": lambda c, pid: c.delete(f"/Patient/{pid}"),  # last: the others need the patient
}


def _answered(response: httpx.Response) -> bool:
    """Anything but "there is no such thing here" (404, 405, an outcome saying not-supported)."""
    if response.status_code in (404, 405, 501):
        return False
    if response.headers.get("content-type", "").startswith("application/fhir+json") and response.content:
        body = response.json()
        if body.get("resourceType") == "OperationOutcome":
            return all(i["code"] != "not-supported" for i in body["issue"])
    return True


def test_declares_transaction_batch_and_system_export(statement: dict[str, Any]) -> None:
    rest = statement["rest"][0]
    assert [i["code"] for i in rest["interaction"]] == ["transaction", "batch", "history-system", "search-system"]
    assert rest["operation"] == [
        {"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"}]


# The operations a type serves beside $validate (which every type serves).
TYPE_OPERATIONS = {
    "Patient": ["everything", "export", "summary"], "Group": ["export"], "DocumentReference": ["docref"],
    "ValueSet": ["expand", "validate-code"], "CodeSystem": ["lookup", "subsumes", "validate-code"],
    "ConceptMap": ["translate"], "Appointment": ["book", "cancel", "find", "hold"], "Schedule": ["generate-slots"],
    "Medication": ["stock"],
    "Encounter": ["charge", "triage-queue"], "Organization": ["tree"], "Location": ["bed-board"],
    "Claim": ["inquire", "submit"], "CoverageEligibilityRequest": ["submit"],
    "ChargeItemDefinition": ["apply"], "Account": ["invoice"],
    "Invoice": ["cancel-payment", "pay"], "PaymentReconciliation": ["refund"],
    "Subscription": ["events", "status"],
}


def test_operations_only_on_the_types_that_serve_them(statement: dict[str, Any]) -> None:
    declared = {r["type"]: sorted(o["name"] for o in r.get("operation", [])) for r in statement["rest"][0]["resource"]}
    for rtype, names in TYPE_OPERATIONS.items():
        assert declared[rtype] == sorted([*names, "validate"]), rtype
    others = {t: ops for t, ops in declared.items() if t not in TYPE_OPERATIONS}
    assert len(others) == 146 - len(TYPE_OPERATIONS) and all(ops == ["validate"] for ops in others.values())


def test_every_declared_interaction_answers(client: httpx.Client, statement: dict[str, Any], patient_id: str) -> None:
    rest = statement["rest"][0]
    for code in (i["code"] for i in rest["interaction"]):
        response = SYSTEM_INTERACTIONS[code](client)
        assert response.status_code == 200 and _answered(response), (code, response.text[:300])
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    declared = [i["code"] for i in patient["interaction"]]
    assert sorted(declared) == sorted(PATIENT_INTERACTIONS)
    for code, call in PATIENT_INTERACTIONS.items():
        response = call(client, patient_id)
        assert response.status_code in (200, 201) and _answered(response), (code, response.text[:300])


def _operation_calls(client: httpx.Client, rtype: str, name: str, pid: str) -> list[httpx.Response]:
    """One call per level the operation serves on ``rtype`` (a declared one we cannot call fails)."""
    if name == "validate":
        body = {"resourceType": "Parameters", "parameter": [
            {"name": "resource", "resource": {"resourceType": rtype, "id": "x"}}]}
        return [client.post(f"/{rtype}/$validate", json=body), client.post(f"/{rtype}/x/$validate", json=body)]
    if (rtype, name) == ("Patient", "everything"):
        return [client.get(f"/Patient/{pid}/$everything"), client.get("/Patient/$everything")]
    if (rtype, name) == ("Patient", "export"):
        return [client.get("/Patient/$export", headers=ASYNC)]
    if (rtype, name) == ("Patient", "summary"):
        client.patch(f"/Patient/{pid}", json=[{"op": "add", "path": "/identifier", "value": [
            {"system": "urn:walk:mrn", "value": pid}]}], headers={"Content-Type": "application/json-patch+json"})
        return [client.get(f"/Patient/{pid}/$summary"), client.get(f"/Patient/$summary?identifier=urn:walk:mrn|{pid}")]
    if (rtype, name) == ("Group", "export"):
        gid = client.post("/Group", json={"resourceType": "Group", "type": "person", "actual": True}).json()["id"]
        return [client.get(f"/Group/{gid}/$export", headers=ASYNC)]
    calls = _terminology_calls(client, rtype, name) or _workflow_calls(client, rtype, name, pid)
    if calls is None:
        raise AssertionError(f"{rtype} declares ${name}, which this test does not know how to call")
    return calls


GENDER_VS, GENDER_CS = "http://hl7.org/fhir/ValueSet/administrative-gender", "http://hl7.org/fhir/administrative-gender"


def _terminology_calls(client: httpx.Client, rtype: str, name: str) -> list[httpx.Response] | None:
    """Type and instance level of each terminology operation, on a core and on a stored resource."""
    stored = {"ValueSet": {"resourceType": "ValueSet", "status": "active", "url": "urn:walk:vs",
                           "compose": {"include": [{"system": GENDER_CS}]}},
              "CodeSystem": {"resourceType": "CodeSystem", "status": "active", "url": "urn:walk:cs",
                             "content": "complete", "concept": [{"code": "a", "concept": [{"code": "b"}]}]},
              "ConceptMap": {"resourceType": "ConceptMap", "status": "active", "url": "urn:walk:cm",
                             "group": [{"source": "urn:walk:cs", "target": GENDER_CS,
                                        "element": [{"code": "a", "target": [{"code": "male",
                                                                              "equivalence": "equivalent"}]}]}]}}
    queries = {("ValueSet", "expand"): ({"url": GENDER_VS}, {}),
               ("ValueSet", "validate-code"): ({"url": GENDER_VS, "system": GENDER_CS, "code": "male"},
                                               {"system": GENDER_CS, "code": "male"}),
               ("CodeSystem", "lookup"): ({"system": GENDER_CS, "code": "male"}, {"code": "a"}),
               ("CodeSystem", "validate-code"): ({"url": GENDER_CS, "code": "male"}, {"code": "b"}),
               ("CodeSystem", "subsumes"): ({"system": GENDER_CS, "codeA": "male", "codeB": "male"},
                                           {"codeA": "a", "codeB": "b"}),
               ("ConceptMap", "translate"): ({"url": "urn:walk:cm", "system": "urn:walk:cs", "code": "a"},
                                             {"system": "urn:walk:cs", "code": "a"})}
    if (rtype, name) not in queries:
        return None
    type_query, instance_query = queries[(rtype, name)]
    rid = client.post(f"/{rtype}", json=stored[rtype]).json()["id"]
    if rtype == "ConceptMap":
        client.post("/CodeSystem", json=stored["CodeSystem"])
    return [client.get(f"/{rtype}/${name}", params=type_query),
            client.get(f"/{rtype}/{rid}/${name}", params=instance_query)]


def _workflow_calls(client: httpx.Client, rtype: str, name: str, pid: str) -> list[httpx.Response] | None:
    if (rtype, name) == ("DocumentReference", "docref"):
        return [client.get("/DocumentReference/$docref", params={"patient": pid})]
    if (rtype, name) == ("Appointment", "find"):
        window = {"start": "2030-01-01T00:00:00Z", "end": "2030-01-02T00:00:00Z"}
        return [client.get("/Appointment/$find", params=window)]
    if (rtype, name) == ("Medication", "stock"):
        return [client.get("/Medication/$stock", params={"below": "10"})]
    if (rtype, name) == ("Encounter", "triage-queue"):
        return [client.get("/Encounter/$triage-queue")]
    if (rtype, name) == ("Organization", "tree"):
        oid = client.post("/Organization", json={"resourceType": "Organization", "name": "walk"}).json()["id"]
        return [client.get(f"/Organization/{oid}/$tree")]
    if (rtype, name) == ("Location", "bed-board"):
        lid = client.post("/Location", json={"resourceType": "Location", "name": "walk ward"}).json()["id"]
        return [client.get(f"/Location/{lid}/$bed-board")]
    if rtype in ("Appointment", "Schedule"):
        return []  # $hold/$book/$cancel/$generate-slots change bookings: tests/integration/scheduling calls them
    if rtype in ("Claim", "CoverageEligibilityRequest"):
        return []  # $submit/$inquire need a payer and a Coverage: tests/integration/claims calls them
    if (rtype, name) == ("ChargeItemDefinition", "apply"):
        price = {"resourceType": "ChargeItemDefinition", "url": "urn:walk:price", "status": "active",
                 "propertyGroup": [{"priceComponent": [{"type": "base", "amount": {"value": 1, "currency": "EUR"}}]}]}
        did = client.post("/ChargeItemDefinition", json=price).json()["id"]
        charge = {"resourceType": "ChargeItem", "status": "planned", "code": {"text": "walk"},
                  "subject": {"reference": f"Patient/{pid}"}}
        body = {"resourceType": "Parameters", "parameter": [{"name": "chargeItem", "resource": charge}]}
        return [client.post(f"/ChargeItemDefinition/{did}/$apply", json=body)]
    if rtype in ("Account", "Invoice", "PaymentReconciliation") or (rtype, name) == ("Encounter", "charge"):
        return []  # $invoice, $pay, $cancel-payment, $refund, $charge write money: the billing tests call them
    if rtype == "Subscription":
        return []  # $status/$events need a delivering Subscription: tests/integration/subscriptions calls them
    return None


def test_every_declared_operation_answers(client: httpx.Client, statement: dict[str, Any]) -> None:
    pid = client.post("/Patient", json={"resourceType": "Patient"}).json()["id"]
    system = client.get("/$export", headers=ASYNC)
    assert system.status_code == 202 and system.headers["content-location"]
    for resource in statement["rest"][0]["resource"]:
        for op in resource.get("operation", []):
            for response in _operation_calls(client, resource["type"], op["name"], pid):
                assert response.status_code in (200, 202) and _answered(response), (resource["type"], op["name"])


def _route_operation(path: str) -> tuple[str | None, str] | None:
    """(type or "*" for any or None for system, code) of an operation route, None for other routes."""
    match = re.fullmatch(r"/fhir(?:/([^/]+))?(?:/\{[^}]+\})?/\$([a-z][A-Za-z-]*)", path)
    if match is None:
        return None
    rtype = match[1]
    return ("*" if rtype and rtype.startswith("{") else rtype), match[2]


def _paths(routes: list[Any], prefix: str = "") -> Iterator[str]:
    """Every route path of the app, through included routers (FastAPI >= 0.165 keeps them nested)."""
    for route in routes:
        if hasattr(route, "original_router"):
            yield from _paths(route.original_router.routes, prefix + route.include_context.prefix)
        elif isinstance(route, Route):
            yield prefix + route.path


def test_every_served_operation_route_is_declared(statement: dict[str, Any]) -> None:
    app = create_app(Settings(database_url="postgresql://unused", auth="off"))
    served = {op for path in _paths(app.router.routes) if (op := _route_operation(path))}
    assert served == {(None, "export"), ("Patient", "export"), ("Group", "export"), ("Patient", "everything"),
                      ("Patient", "summary"),
                      ("*", "validate"), *((t, code) for t, codes in TYPE_OPERATIONS.items() for code in codes
                                           if t not in ("Patient", "Group"))}
    rest = statement["rest"][0]
    by_type = {r["type"]: {o["name"] for o in r.get("operation", [])} for r in rest["resource"]}
    for rtype, code in served:
        if rtype is None:
            assert code in {o["name"] for o in rest["operation"]}
        elif rtype == "*":
            assert all(code in by_type[t] for t in definitions().resource_types), code
        else:
            assert code in by_type[rtype], (rtype, code)


@pytest.mark.parametrize(("method", "path", "status", "message"), [
    ("GET", "/Claim/x/$everything", 404, "Operation $everything is not supported on Claim (instance level)"),
    ("GET", "/ValueSet/$everything", 404, "Operation $everything is not supported on ValueSet (type level)"),
    ("GET", "/Claim/$export", 404, "Operation $export is not supported on Claim (type level)"),
    ("POST", "/$validate", 404, "Operation $validate is not supported at system level"),
    ("GET", "/Patient/x/$frobnicate", 404, "Unknown operation $frobnicate: this server does not serve it"),
    ("POST", "/$frobnicate", 404, "Unknown operation $frobnicate: this server does not serve it"),
    ("GET", "/Patient/$validate", 405, "GET is not allowed for $validate"),
    ("GET", "/Claimx/x/$everything", 404, "Unknown resource type 'Claimx': not a FHIR R4 resource type"),
])
def test_operation_not_served_there(client: httpx.Client, method: str, path: str, status: int,
                                    message: str) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    issue = response.json()["issue"][0]
    assert issue["diagnostics"] == message
    assert issue["code"] == ("not-found" if "Unknown resource type" in message else "not-supported")


def test_metadata_summary_and_elements(client: httpx.Client, statement: dict[str, Any]) -> None:
    full = client.get("/metadata")
    assert len(full.content) > 400_000
    summary = client.get("/metadata", params={"_summary": "true"})
    assert summary.status_code == 200 and len(summary.content) < 40_000
    body = summary.json()
    assert body["fhirVersion"] == "4.0.1" and body["meta"]["tag"][0]["code"] == "SUBSETTED"
    patient = next(r for r in body["rest"][0]["resource"] if r["type"] == "Patient")
    assert "interaction" not in patient and "searchParam" not in patient
    elements = client.get("/metadata", params={"_elements": "fhirVersion,format"}).json()
    # The asked-for elements plus the mandatory ones (search.html#elements).
    assert {k for k in elements if k not in ("resourceType", "id", "meta")} == {"fhirVersion", "format", "status",
                                                                                "date", "kind"}
    assert client.get("/metadata", params={"_summary": "bogus"}).status_code == 400
