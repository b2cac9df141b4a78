"""What a resource looks like on the wire (http://hl7.org/fhir/R4/json.html): ``resourceType``
first and elements in StructureDefinition order, the same bytes on create, read, vread, search,
history and $everything; decimals keep their exact text (the official Observation-decimal.json:
``-1.000000000000000000E+245`` must not come back as a 246-digit integer); rows written before
the ``body`` column existed still read."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import psycopg
import pytest

# Sent in a scrambled order; the expected orders below are read off the R4 definitions by hand.
SCRAMBLED = (b'{"gender":"female","name":[{"given":["Ann"],"family":"Order","use":"official"}],'
             b'"_birthDate":{"extension":[{"valueDateTime":"1970-01-02T10:00:00Z",'
             b'"url":"http://hl7.org/fhir/StructureDefinition/patient-birthTime"}]},"birthDate":"1970-01-02",'
             b'"active":true,"identifier":[{"value":"o1","system":"urn:order"}],"resourceType":"Patient"}')
DECIMALS = (b'{"resourceType":"Observation","status":"final","code":{"text":"Decimal Testing Observation"},'
            b'"component":[' + b",".join(
                b'{"code":{"text":"Component"},"valueQuantity":{"value":' + v + b',"unit":"g"}}'
                for v in (b"1.0", b"1.00", b"1E-22", b"1000000000000000000", b"1.000000000000000000E-245",
                          b"-1.000000000000000000E+245")) + b"]}")
FHIR_JSON = {"Content-Type": "application/fhir+json"}


def _pairs(raw: bytes) -> Any:
    """JSON with key order and number text kept (lists of pairs, numbers as strings)."""
    return json.loads(raw, object_pairs_hook=list, parse_float=str, parse_int=str)


def _resources(bundle: bytes) -> list[Any]:
    entries = dict(_pairs(bundle)).get("entry", [])
    return [dict(entry)["resource"] for entry in entries]


@pytest.fixture(scope="module")
def patient(client: httpx.Client) -> httpx.Response:
    created = client.post("/Patient", content=SCRAMBLED, headers=FHIR_JSON)
    assert created.status_code == 201
    return created


def test_canonical_order_on_create(patient: httpx.Response) -> None:
    body = dict(_pairs(patient.content))
    assert [k for k, _ in _pairs(patient.content)] == ["resourceType", "id", "meta", "identifier", "active", "name",
                                                        "gender", "birthDate", "_birthDate"]
    assert [k for k, _ in body["meta"]] == ["versionId", "lastUpdated"]
    assert [k for k, _ in body["name"][0]] == ["use", "family", "given"]
    assert [k for k, _ in body["identifier"][0]] == ["system", "value"]
    assert [k for k, _ in dict(body["_birthDate"])["extension"][0]] == ["url", "valueDateTime"]


def test_same_bytes_on_every_read_path(client: httpx.Client, patient: httpx.Response) -> None:
    rid = patient.json()["id"]
    created = patient.content
    assert client.get(f"/Patient/{rid}").content == created  # the hot path
    assert client.get(f"/Patient/{rid}", headers={"Origin": "http://app"}).content == created  # routed
    assert client.get(f"/Patient/{rid}/_history/1").content == created
    expected = _pairs(created)
    assert _resources(client.get("/Patient", params={"_id": rid}).content) == [expected]
    assert _resources(client.get(f"/Patient/{rid}/_history").content) == [expected]
    assert _resources(client.get(f"/Patient/{rid}/$everything").content) == [expected]
    assert _resources(client.post("/Patient/_search", data={"_id": rid}).content) == [expected]


def test_update_and_patch_store_canonical_order(client: httpx.Client, patient: httpx.Response) -> None:
    rid = patient.json()["id"]
    put = client.put(f"/Patient/{rid}", content=b'{"gender":"male","id":"' + rid.encode() + b'","resourceType":'
                     b'"Patient","active":false}', headers=FHIR_JSON)
    assert put.status_code == 200
    assert [k for k, _ in _pairs(put.content)] == ["resourceType", "id", "meta", "active", "gender"]
    patched = client.patch(f"/Patient/{rid}", json={"birthDate": "1980-05-05"})
    assert [k for k, _ in _pairs(patched.content)] == ["resourceType", "id", "meta", "active", "gender", "birthDate"]
    assert client.get(f"/Patient/{rid}").content == patched.content


def test_decimals_keep_their_text(client: httpx.Client) -> None:
    created = client.post("/Observation", content=DECIMALS, headers=FHIR_JSON)
    assert created.status_code == 201
    for response in (created, client.get(f"/Observation/{created.json()['id']}")):
        components = dict(_pairs(response.content))["component"]
        values = [dict(dict(c)["valueQuantity"])["value"] for c in components]
        assert values == ["1.0", "1.00", "1E-22", "1000000000000000000", "1.000000000000000000E-245",
                          "-1.000000000000000000E+245"]


def test_transaction_creates_store_the_same_form(client: httpx.Client) -> None:
    bundle = b'{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"POST","url":"Patient"},' \
             b'"resource":' + SCRAMBLED + b"}]}"
    response = client.post("", content=bundle, headers=FHIR_JSON)
    assert response.status_code == 200, response.text
    location = response.json()["entry"][0]["response"]["location"].split("/_history")[0]
    read = client.get(f"/{location}")
    assert [k for k, _ in _pairs(read.content)][3:] == ["identifier", "active", "name", "gender", "birthDate",
                                                         "_birthDate"]


def test_rows_without_body_still_read(client: httpx.Client, database_url: str) -> None:
    """A row stored before migration 070 (body NULL) is served from its JSONB content."""
    rid = client.post("/Patient", json={"resourceType": "Patient", "gender": "other"}).json()["id"]
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE resource SET body = NULL WHERE resource_type = 'Patient' AND id = %s", (rid,))
        conn.execute("UPDATE resource_history SET body = NULL WHERE resource_type = 'Patient' AND id = %s", (rid,))
    for path in (f"/Patient/{rid}", f"/Patient/{rid}/_history/1"):
        read = client.get(path)
        assert read.status_code == 200 and read.json()["gender"] == "other" and read.json()["id"] == rid
    assert client.get("/Patient", params={"_id": rid}).json()["entry"][0]["resource"]["gender"] == "other"


def test_export_lines_are_the_read_bytes(client: httpx.Client, patient: httpx.Response) -> None:
    rid = patient.json()["id"]
    kick = client.get("/$export", params={"_type": "Patient"}, headers={"Prefer": "respond-async"})
    assert kick.status_code == 202
    deadline = time.monotonic() + 60
    status = client.get(kick.headers["content-location"])
    while status.status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.2)
        status = client.get(kick.headers["content-location"])
    assert status.status_code == 200
    lines = [line for item in status.json()["output"] for line in client.get(item["url"]).content.splitlines()]
    read = client.get(f"/Patient/{rid}").content
    assert read in lines
