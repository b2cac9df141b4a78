"""The hot paths (resources/hot_paths.py) answer exactly as the routed read and create do.

A plain ``GET /fhir/Type/id`` is served below the framework; anything unusual is handed to
the full stack. Each test compares a plain read with the same read forced through the routed
path (a ``_format`` query parameter makes the request ineligible for the hot path), or checks
that a request the hot path must not answer still gets the spec's answer.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from fhir_server.resources.hot_paths import HotPathMiddleware

PATIENT = {"resourceType": "Patient", "name": [{"family": "Fastpath"}], "gender": "other"}


@pytest.fixture(scope="module")
def patient_id(client: httpx.Client) -> str:
    response = client.post("/Patient", json=PATIENT)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _same_headers(plain: httpx.Response, routed: httpx.Response) -> None:
    for name in ("content-type", "etag", "last-modified", "content-length"):
        assert plain.headers[name] == routed.headers[name], name


def test_plain_read_equals_routed_read(client: httpx.Client, patient_id: str) -> None:
    plain = client.get(f"/Patient/{patient_id}")
    routed = client.get(f"/Patient/{patient_id}", params={"_format": "application/fhir+json"})
    assert plain.status_code == routed.status_code == 200
    assert plain.content == routed.content
    _same_headers(plain, routed)
    assert plain.headers["content-type"] == "application/fhir+json; charset=utf-8"
    assert plain.headers["etag"] == 'W/"1"'


def test_accept_json_gives_application_json(client: httpx.Client, patient_id: str) -> None:
    plain = client.get(f"/Patient/{patient_id}", headers={"Accept": "application/json"})
    routed = client.get(f"/Patient/{patient_id}", params={"_format": "application/json"})
    assert plain.status_code == 200
    assert plain.headers["content-type"] == routed.headers["content-type"] == "application/json; charset=utf-8"
    assert plain.content == routed.content


def test_request_id_is_echoed(client: httpx.Client, patient_id: str) -> None:
    response = client.get(f"/Patient/{patient_id}", headers={"X-Request-Id": "fast-read-1"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "fast-read-1"


@pytest.mark.parametrize(("path", "status", "code"), [
    ("/Patient/no-such-patient", 404, "not-found"),
    ("/NoSuchType/abc", 404, "not-found"),
])
def test_misses_get_operation_outcomes(client: httpx.Client, path: str, status: int, code: str) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert response.json()["resourceType"] == "OperationOutcome"
    assert response.json()["issue"][0]["code"] == code


def test_deleted_is_410(client: httpx.Client) -> None:
    rid = client.post("/Patient", json=PATIENT).json()["id"]
    assert client.delete(f"/Patient/{rid}").status_code in (200, 204)
    response = client.get(f"/Patient/{rid}")
    assert response.status_code == 410
    assert response.headers["etag"] == 'W/"2"'
    assert response.json()["resourceType"] == "OperationOutcome"


def test_xml_is_406(client: httpx.Client, patient_id: str) -> None:
    response = client.get(f"/Patient/{patient_id}", headers={"Accept": "application/fhir+xml"})
    assert response.status_code == 406
    assert response.json()["resourceType"] == "OperationOutcome"


def test_conditional_read_is_304(client: httpx.Client, patient_id: str) -> None:
    response = client.get(f"/Patient/{patient_id}", headers={"If-None-Match": 'W/"1"'})
    assert response.status_code == 304
    assert response.headers["etag"] == 'W/"1"'


def test_cross_origin_read_carries_cors_headers(client: httpx.Client, patient_id: str) -> None:
    response = client.get(f"/Patient/{patient_id}", headers={"Origin": "https://app.example.org"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "etag" in response.headers["access-control-expose-headers"].lower()


def test_head_and_trailing_paths_are_not_taken(client: httpx.Client, patient_id: str) -> None:
    # /_history is its own interaction, not a read of a resource called "_history"
    history = client.get(f"/Patient/{patient_id}/_history")
    assert history.status_code == 200 and history.json()["type"] == "history"


def test_middleware_ignores_non_http_scopes() -> None:
    seen: list[str] = []

    async def inner(scope: dict[str, object], receive: object, send: object) -> None:
        seen.append(str(scope["type"]))

    import asyncio

    middleware = HotPathMiddleware(inner, trail_of=lambda: None)  # type: ignore[arg-type]
    asyncio.run(middleware({"type": "lifespan"}, None, None))  # type: ignore[arg-type]
    assert seen == ["lifespan"]


def _count(client: httpx.Client, family: str) -> int:
    bundle = client.get("/Patient", params={"family:exact": family, "_total": "accurate", "_count": "0"}).json()
    return int(bundle["total"])


def test_plain_create_answers_as_the_routed_create(client: httpx.Client, server_url: str) -> None:
    body = {"resourceType": "Patient", "name": [{"family": "HotCreate"}]}
    response = client.post("/Patient", json=body, headers={"X-Request-Id": "hot-create-1"})
    assert response.status_code == 201
    created = response.json()
    assert response.headers["location"] == f"{server_url}/Patient/{created['id']}/_history/1"
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["content-type"] == "application/fhir+json; charset=utf-8"
    assert response.headers["x-request-id"] == "hot-create-1"
    assert created["name"] == body["name"] and created["meta"]["versionId"] == "1"
    assert client.get(f"/Patient/{created['id']}").json()["name"] == body["name"]


def test_prefer_minimal_and_operation_outcome(client: httpx.Client) -> None:
    body = {"resourceType": "Patient", "name": [{"family": "HotPrefer"}]}
    minimal = client.post("/Patient", json=body, headers={"Prefer": "return=minimal"})
    assert minimal.status_code == 201 and minimal.content == b"" and minimal.headers["location"]
    outcome = client.post("/Patient", json=body, headers={"Prefer": "return=OperationOutcome"})
    assert outcome.status_code == 201 and outcome.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(("content", "headers", "status"), [
    (b'{"resourceType": "Patient", "name": [{"family": "HotBad"}', {"Content-Type": "application/fhir+json"}, 400),
    (b'{"resourceType": "Patient", "name": [{"family": "HotBad"}], "gender": "x"}',
     {"Content-Type": "application/fhir+json"}, 422),
    (b'{"resourceType": "Patient", "name": [{"family": "HotBad"}]}', {"Content-Type": "text/plain"}, 415),
    (b'{"resourceType": "Patient", "name": [{"family": "HotBad"}]}',
     {"Content-Type": "application/fhir+json", "Accept": "application/fhir+xml"}, 406),
    (b'{"resourceType": "Observation", "name": [{"family": "HotBad"}]}',
     {"Content-Type": "application/fhir+json"}, 400),
])
def test_refused_creates_change_nothing(client: httpx.Client, content: bytes, headers: dict[str, str],
                                        status: int) -> None:
    response = client.post("/Patient", content=content, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["resourceType"] == "OperationOutcome"
    assert _count(client, "HotBad") == 0


def test_unknown_type_create_is_404(client: httpx.Client) -> None:
    response = client.post("/NoSuchType", json={"resourceType": "NoSuchType"})
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


def test_chunked_create_goes_through_the_full_stack(client: httpx.Client) -> None:
    payload = b'{"resourceType": "Patient", "name": [{"family": "HotChunked"}]}'

    def chunks() -> Iterator[bytes]:
        yield payload[:10]
        yield payload[10:]

    response = client.post("/Patient", content=chunks(), headers={"Content-Type": "application/fhir+json"})
    assert response.status_code == 201
    assert _count(client, "HotChunked") == 1


def test_unacceptable_transaction_runs_nothing(client: httpx.Client) -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "name": [{"family": "HotBundle406"}]},
         "request": {"method": "POST", "url": "Patient"}}]}
    response = client.post("", json=bundle, headers={"Accept": "application/fhir+xml"})
    assert response.status_code == 406
    assert _count(client, "HotBundle406") == 0


def test_a_failure_after_the_commit_is_not_replayed(client: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hot path replays a failed create to the full stack only while nothing is written:
    a fault injected into the answer of a committed create gives a 500, not a second resource."""
    from fhir_server.resources import router

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("injected after the commit")

    monkeypatch.setattr(router, "render_create", broken)
    response = client.post("/Patient", json={"resourceType": "Patient", "name": [{"family": "HotCommitted"}]})
    assert response.status_code == 500
    assert response.json()["resourceType"] == "OperationOutcome"
    assert "injected" not in response.text
    monkeypatch.undo()
    assert _count(client, "HotCommitted") == 1
