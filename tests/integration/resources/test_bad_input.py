"""Bad input gets an OperationOutcome and changes nothing (http.html#2.21.0.4)."""

from __future__ import annotations

import httpx
import pytest


def _type_history_size(client: httpx.Client, rtype: str) -> int:
    bundle = client.get(f"/{rtype}/_history", params={"_count": "1000"}).json()
    return len(bundle.get("entry", []))


def _assert_outcome(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["severity"] in ("error", "fatal")
    if code is not None:
        assert body["issue"][0]["code"] == code


@pytest.mark.parametrize("raw", [b"{not json", b'{"resourceType": "Patient",}', b"[]", b"", b"null",
                                 b'{"resourceType":"Patient","active":NaN}'])
def test_malformed_json(client: httpx.Client, raw: bytes) -> None:
    before = _type_history_size(client, "Location")
    response = client.post("/Location", content=raw, headers={"Content-Type": "application/fhir+json"})
    _assert_outcome(response, 400)
    assert _type_history_size(client, "Location") == before


def test_invalid_utf8(client: httpx.Client) -> None:
    raw = b'{"resourceType":"Location","name":"caf\xe9"}'
    response = client.post("/Location", content=raw, headers={"Content-Type": "application/fhir+json"})
    _assert_outcome(response, 400)
    assert "UTF-8" in response.json()["issue"][0]["diagnostics"]


def test_deep_nesting(client: httpx.Client) -> None:
    raw = b'{"resourceType":"Location","x":' + b"[" * 5000 + b"]" * 5000 + b"}"
    _assert_outcome(client.post("/Location", content=raw, headers={"Content-Type": "application/fhir+json"}), 400)


def test_oversized_body(client: httpx.Client) -> None:
    raw = b'{"resourceType":"Location","name":"' + b"x" * (3 * 1024 * 1024) + b'"}'
    _assert_outcome(client.post("/Location", content=raw, headers={"Content-Type": "application/fhir+json"}), 413)


def test_unsupported_media_type(client: httpx.Client) -> None:
    response = client.post("/Location", content=b"<Location xmlns='http://hl7.org/fhir'/>",
                           headers={"Content-Type": "application/fhir+xml"})
    _assert_outcome(response, 415, "not-supported")


def test_wrong_method_is_405(client: httpx.Client) -> None:
    _assert_outcome(client.post("/Location/123"), 405, "not-supported")
    _assert_outcome(client.delete("/metadata"), 405)


def test_unknown_path_is_404_outcome(client: httpx.Client) -> None:
    _assert_outcome(client.get("/Location/1/2/3/4"), 404)


def test_invalid_resource_is_rejected_with_location(client: httpx.Client) -> None:
    before = _type_history_size(client, "Patient")
    unknown_element = client.post("/Patient", json={"resourceType": "Patient", "foo": 1})
    _assert_outcome(unknown_element, 400)
    assert unknown_element.json()["issue"][0]["expression"] == ["Patient.foo"]
    bad_code = client.post("/Patient", json={"resourceType": "Patient", "gender": "mal"})
    _assert_outcome(bad_code, 422)
    assert bad_code.json()["issue"][0]["expression"] == ["Patient.gender"]
    bad_date = client.post("/Patient", json={"resourceType": "Patient", "birthDate": "1990-13-01"})
    assert bad_date.status_code in (400, 422)
    assert bad_date.json()["issue"][0]["expression"] == ["Patient.birthDate"]
    invariant = client.post("/Patient", json={"resourceType": "Patient", "contact": [{"gender": "male"}]})
    _assert_outcome(invariant, 422, "invariant")
    assert _type_history_size(client, "Patient") == before


def test_no_html_or_traceback_anywhere(client: httpx.Client) -> None:
    for response in (client.get("/Patient/%00"), client.get("/Patient/x/_history/%FF"),
                     client.put("/Patient/x", content=b"\xff\xfe", headers={"Content-Type": "application/json"})):
        assert response.status_code < 500
        assert "Traceback" not in response.text and "<html" not in response.text.lower()


def test_oversized_headers_get_431_outcome(client: httpx.Client) -> None:
    too_big = client.get("/metadata", headers={"X-Padding": "a" * 40_000})
    assert too_big.status_code == 431
    assert too_big.json()["issue"][0]["code"] == "too-costly"
    assert client.get("/metadata", headers={"X-Padding": "a" * 20_000}).status_code == 200
