"""Conditional create, update, delete and patch, and race-free behaviour (http.html#ccreate ...)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

SYSTEM = "http://hospital.example.org/mrn"


def _patient(mrn: str, **extra: object) -> dict[str, object]:
    return {"resourceType": "Patient", "identifier": [{"system": SYSTEM, "value": mrn}], **extra}


def _count(client: httpx.Client, mrn: str) -> int:
    bundle = client.get("/Patient", params={"identifier": f"{SYSTEM}|{mrn}", "_total": "accurate"}).json()
    return len(bundle.get("entry", []))


def test_conditional_create(client: httpx.Client) -> None:
    mrn = uuid.uuid4().hex
    header = {"If-None-Exist": f"identifier={SYSTEM}|{mrn}"}
    first = client.post("/Patient", json=_patient(mrn), headers=header)
    assert first.status_code == 201
    second = client.post("/Patient", json=_patient(mrn, gender="male"), headers=header)
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"] and "gender" not in second.json()
    client.post("/Patient", json=_patient(mrn))  # an unconditional duplicate
    third = client.post("/Patient", json=_patient(mrn), headers=header)
    assert third.status_code == 412


def test_conditional_create_racing_with_itself_creates_one(client: httpx.Client, server_url: str) -> None:
    mrn = uuid.uuid4().hex

    def attempt(_: int) -> int:
        with httpx.Client(base_url=server_url, timeout=30) as own:
            return own.post("/Patient", json=_patient(mrn),
                            headers={"If-None-Exist": f"identifier={SYSTEM}|{mrn}"}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(attempt, range(8)))
    assert sorted(statuses) == [200] * 7 + [201]
    assert _count(client, mrn) == 1


def test_conditional_update(client: httpx.Client) -> None:
    mrn = uuid.uuid4().hex
    query = {"identifier": f"{SYSTEM}|{mrn}"}
    created = client.put("/Patient", params=query, json=_patient(mrn))
    assert created.status_code == 201
    rid = created.json()["id"]
    updated = client.put("/Patient", params=query, json=_patient(mrn, gender="female"))
    assert updated.status_code == 200
    assert updated.json()["id"] == rid and updated.json()["meta"]["versionId"] == "2"
    wrong_id = client.put("/Patient", params=query, json=_patient(mrn, id="another-id"))
    assert wrong_id.status_code == 400
    client.post("/Patient", json=_patient(mrn))
    assert client.put("/Patient", params=query, json=_patient(mrn)).status_code == 412


def test_conditional_update_creates_with_body_id(client: httpx.Client) -> None:
    mrn = uuid.uuid4().hex
    rid = f"cu-{mrn[:10]}"
    response = client.put("/Patient", params={"identifier": f"{SYSTEM}|{mrn}"}, json=_patient(mrn, id=rid))
    assert response.status_code == 201 and response.json()["id"] == rid


def test_conditional_delete_single_and_multiple(client: httpx.Client) -> None:
    mrn = uuid.uuid4().hex
    query = {"identifier": f"{SYSTEM}|{mrn}"}
    nothing = client.delete("/Patient", params=query)
    assert nothing.status_code == 200
    ids = [client.post("/Patient", json=_patient(mrn)).json()["id"] for _ in range(3)]
    deleted = client.delete("/Patient", params=query)
    assert deleted.status_code == 200
    assert all(client.get(f"/Patient/{rid}").status_code == 410 for rid in ids)
    assert _count(client, mrn) == 0


def test_conditional_patch(client: httpx.Client) -> None:
    mrn = uuid.uuid4().hex
    query = {"identifier": f"{SYSTEM}|{mrn}"}
    patch = [{"op": "add", "path": "/gender", "value": "other"}]
    headers = {"Content-Type": "application/json-patch+json"}
    assert client.patch("/Patient", params=query, json=patch, headers=headers).status_code == 404
    rid = client.post("/Patient", json=_patient(mrn)).json()["id"]
    patched = client.patch("/Patient", params=query, json=patch, headers=headers)
    assert patched.status_code == 200 and patched.json()["id"] == rid and patched.json()["gender"] == "other"


def test_unknown_search_parameter_in_condition_is_400(client: httpx.Client) -> None:
    response = client.post("/Patient", json=_patient("x"), headers={"If-None-Exist": "no-such-param=1"})
    assert response.status_code == 400


def test_concurrent_updates_produce_contiguous_versions(client: httpx.Client, server_url: str) -> None:
    rid = f"race-{uuid.uuid4().hex[:8]}"
    client.put(f"/Patient/{rid}", json={"resourceType": "Patient", "id": rid})

    def update(n: int) -> int:
        with httpx.Client(base_url=server_url, timeout=30) as own:
            body = {"resourceType": "Patient", "id": rid, "name": [{"family": f"n{n}"}]}
            return own.put(f"/Patient/{rid}", json=body).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(update, range(20))) == {200}
    history = client.get(f"/Patient/{rid}/_history", params={"_count": "100"}).json()
    versions = sorted(int(e["resource"]["meta"]["versionId"]) for e in history["entry"])
    assert versions == list(range(1, 22))
    assert client.get(f"/Patient/{rid}").json()["meta"]["versionId"] == "21"


def test_concurrent_update_as_create_of_one_id(client: httpx.Client, server_url: str) -> None:
    rid = f"new-{uuid.uuid4().hex[:8]}"

    def put(_: int) -> int:
        with httpx.Client(base_url=server_url, timeout=30) as own:
            return own.put(f"/Patient/{rid}", json={"resourceType": "Patient", "id": rid}).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(put, range(6)))
    assert statuses == [200] * 5 + [201]
    assert client.get(f"/Patient/{rid}").json()["meta"]["versionId"] == "6"
