"""Races on one resource over real HTTP (issue 11, parts 3 and 9).

Concurrent PATCHes without If-Match must serialize on the resource's row (no lost update:
http://hl7.org/fhir/R4/http.html#concurrency), and conditional creates whose criteria are
spelled differently but select the same resources must create one resource, not several
(http.html#ccreate).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

WORKERS = 10
PATCHES = 20
ROUNDS = 3
JSON_PATCH = "application/json-patch+json"
FHIR_JSON = "application/fhir+json"


@pytest.fixture(scope="module")
def clients(server_url: str) -> Iterator[list[httpx.Client]]:
    """One HTTP client per worker thread, as independent callers are."""
    made = [httpx.Client(base_url=server_url, timeout=60, headers={"Accept": FHIR_JSON}) for _ in range(WORKERS)]
    yield made
    for http in made:
        http.close()


def _race(clients: list[httpx.Client], calls: list[Callable[[httpx.Client], httpx.Response]]) -> list[httpx.Response]:
    """Run ``calls`` at once, spread over the clients; answers in call order."""
    with ThreadPoolExecutor(len(clients)) as pool:
        futures = [pool.submit(call, clients[i % len(clients)]) for i, call in enumerate(calls)]
        return [f.result() for f in futures]


def _new_patient(http: httpx.Client) -> str:
    created = http.post("/Patient", json={"resourceType": "Patient", "active": True})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _json_patch(rid: str, n: int) -> Callable[[httpx.Client], httpx.Response]:
    ops = [{"op": "add", "path": "/identifier/-" if n else "/identifier",
            "value": {"system": "urn:race", "value": f"v{n}"} if n else [{"system": "urn:race", "value": "v0"}]}]
    return lambda http: http.patch(f"/Patient/{rid}", json=ops, headers={"Content-Type": JSON_PATCH})


def _fhirpath_patch(rid: str, n: int) -> Callable[[httpx.Client], httpx.Response]:
    parameters = {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueCode": "add"}, {"name": "path", "valueString": "Patient"},
        {"name": "name", "valueString": "identifier"},
        {"name": "value", "valueIdentifier": {"system": "urn:race", "value": f"v{n}"}}]}]}
    return lambda http: http.patch(f"/Patient/{rid}", json=parameters, headers={"Content-Type": FHIR_JSON})


def _assert_all_kept(http: httpx.Client, rid: str, answers: list[httpx.Response]) -> None:
    assert [r.status_code for r in answers] == [200] * PATCHES, [r.text for r in answers if r.status_code != 200]
    # Each patch made one version: 2..21, each answered once.
    assert sorted(int(r.json()["meta"]["versionId"]) for r in answers) == list(range(2, PATCHES + 2))
    current = http.get(f"/Patient/{rid}").json()
    assert current["meta"]["versionId"] == str(PATCHES + 1)
    assert sorted(i["value"] for i in current["identifier"]) == sorted(f"v{n}" for n in range(PATCHES))


@pytest.mark.parametrize("rounds", range(ROUNDS))
def test_concurrent_json_patches_lose_nothing(clients: list[httpx.Client], rounds: int) -> None:
    rid = _new_patient(clients[0])
    first = _json_patch(rid, 0)(clients[0])  # the array exists before the race appends to it
    assert first.status_code == 200, first.text
    answers = [first, *_race(clients, [_json_patch(rid, n) for n in range(1, PATCHES)])]
    _assert_all_kept(clients[0], rid, answers)


@pytest.mark.parametrize("rounds", range(ROUNDS))
def test_concurrent_fhirpath_patches_lose_nothing(clients: list[httpx.Client], rounds: int) -> None:
    rid = _new_patient(clients[0])
    answers = _race(clients, [_fhirpath_patch(rid, n) for n in range(PATCHES)])
    _assert_all_kept(clients[0], rid, answers)


def test_concurrent_conditional_patches_lose_nothing(clients: list[httpx.Client]) -> None:
    rid = _new_patient(clients[0])
    tagged = clients[0].patch(f"/Patient/{rid}", json=[
        {"op": "add", "path": "/identifier", "value": [{"system": "urn:race", "value": f"cond-{rid}"}]}],
        headers={"Content-Type": JSON_PATCH})
    assert tagged.status_code == 200, tagged.text

    def add(n: int) -> Callable[[httpx.Client], httpx.Response]:
        """Half by search, half by id: the condition's lock alone does not order them."""
        ops = [{"op": "add", "path": "/identifier/-", "value": {"system": "urn:race", "value": f"v{n}"}}]
        url = f"/Patient?identifier=urn:race|cond-{rid}" if n % 2 else f"/Patient/{rid}"
        return lambda http: http.patch(url, json=ops, headers={"Content-Type": JSON_PATCH})

    answers = _race(clients, [add(n) for n in range(PATCHES)])
    assert [r.status_code for r in answers] == [200] * PATCHES
    current = clients[0].get(f"/Patient/{rid}").json()
    assert current["meta"]["versionId"] == str(PATCHES + 2)
    assert len(current["identifier"]) == PATCHES + 1


def test_concurrent_bundle_patches_lose_nothing(clients: list[httpx.Client]) -> None:
    rid = _new_patient(clients[0])

    def add(n: int) -> Callable[[httpx.Client], httpx.Response]:
        ops = [{"op": "add", "path": "/name", "value": [{"family": f"f{n}"}]}] if n < 0 else \
            [{"op": "add", "path": "/name/-", "value": {"family": f"f{n}"}}]
        patch_bytes = httpx.Request("POST", "http://x", json=ops).content
        import base64
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [{
            "resource": {"resourceType": "Binary", "contentType": JSON_PATCH,
                         "data": base64.b64encode(patch_bytes).decode()},
            "request": {"method": "PATCH", "url": f"Patient/{rid}"}}]}
        return lambda http: http.post("/", json=bundle, headers={"Content-Type": FHIR_JSON})

    first = add(-1)(clients[0])
    assert first.status_code == 200, first.text
    answers = _race(clients, [add(n) for n in range(PATCHES)])
    assert [r.status_code for r in answers] == [200] * PATCHES, [r.text for r in answers if r.status_code != 200]
    current = clients[0].get(f"/Patient/{rid}").json()
    assert current["meta"]["versionId"] == str(PATCHES + 2)
    assert sorted(n["family"] for n in current["name"]) == sorted(["f-1", *(f"f{n}" for n in range(PATCHES))])


SPELLINGS = ["identifier=urn:cc|{k}", "identifier=urn:cc|{k}&identifier=urn:cc|{k}",
             "identifier=urn:cc|{k}&_format=json", "_format=json&identifier=urn:cc|{k}&_pretty=true",
             "identifier=urn:cc|{k}&_id:missing=false"]


@pytest.mark.parametrize("rounds", range(ROUNDS))
def test_conditional_create_spellings_make_one_resource(clients: list[httpx.Client], rounds: int) -> None:
    key = f"K{rounds}-{_new_patient(clients[0])}"  # unique per round and per test run
    body = {"resourceType": "Patient", "identifier": [{"system": "urn:cc", "value": key}]}

    def create(spelling: str) -> Callable[[httpx.Client], httpx.Response]:
        header = {"If-None-Exist": spelling.format(k=key), "Content-Type": FHIR_JSON}
        return lambda http: http.post("/Patient", json=body, headers=header)

    answers = _race(clients, [create(SPELLINGS[n % len(SPELLINGS)]) for n in range(WORKERS * 2)])
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] * (WORKERS * 2 - 1) + [201], [r.text for r in answers if r.status_code >= 300]
    assert len({r.json()["id"] for r in answers}) == 1
    found = clients[0].get(f"/Patient?identifier=urn:cc|{key}").json()
    assert found["total"] == 1
    # A later conditional request finds the single match (not 412 for several).
    again = clients[0].put(f"/Patient?identifier=urn:cc|{key}", json={**body, "active": True},
                           headers={"Content-Type": FHIR_JSON})
    assert again.status_code == 200, again.text
    assert again.json()["id"] == answers[0].json()["id"]


def test_conditional_writes_of_every_kind_share_the_lock(clients: list[httpx.Client]) -> None:
    """If-None-Exist headers, bundle ifNoneExist and conditional updates (no match: create),
    each spelled differently, racing: one resource is created, every other write finds it."""
    key = f"KW-{_new_patient(clients[0])}"
    body = {"resourceType": "Patient", "identifier": [{"system": "urn:cc", "value": key}]}

    def header_create(spelling: str) -> Callable[[httpx.Client], httpx.Response]:
        return lambda http: http.post("/Patient", json=body, headers={"If-None-Exist": spelling.format(k=key)})

    def bundle_create(spelling: str) -> Callable[[httpx.Client], httpx.Response]:
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [{
            "resource": body, "request": {"method": "POST", "url": "Patient", "ifNoneExist": spelling.format(k=key)}}]}
        return lambda http: http.post("/", json=bundle)

    def conditional_update(spelling: str) -> Callable[[httpx.Client], httpx.Response]:
        return lambda http: http.put(f"/Patient?{spelling.format(k=key)}", json=body)

    kinds = [header_create, bundle_create, conditional_update]
    calls = [kinds[n % 3](SPELLINGS[n % len(SPELLINGS)]) for n in range(WORKERS * 2 - 2)]
    statuses = [_status(r) for r in _race(clients, calls)]
    assert set(statuses) <= {200, 201} and statuses.count(201) == 1, statuses
    found = clients[0].get(f"/Patient?identifier=urn:cc|{key}").json()
    assert found["total"] == 1
    # Version 1 by the one 201, then one version per conditional update that found it.
    updates = [n for n in range(len(calls)) if n % 3 == 2]
    created_by_update = statuses.index(201) in updates
    versions = 1 + len(updates) - (1 if created_by_update else 0)
    assert found["entry"][0]["resource"]["meta"]["versionId"] == str(versions)


def _status(response: httpx.Response) -> int:
    """The status of a single write, or of a one-entry transaction's entry."""
    if response.status_code == 200 and response.json().get("resourceType") == "Bundle":
        return int(response.json()["entry"][0]["response"]["status"].split()[0])
    return response.status_code
