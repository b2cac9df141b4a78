"""Transactions racing with each other and with single writes (issue 11, part 4).

Transactions that PUT [A, B] and [B, A] lock their targets in one canonical order, so they
queue instead of deadlocking; a deadlock or serialization failure that still happens is
re-run (``fhir_server.retry``), so no answer is a 500, and every write answered 2xx is in
the history exactly once (http://hl7.org/fhir/R4/http.html#transaction).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson
import pytest

WORKERS = 8
ROUNDS = 3
FHIR_JSON = {"Content-Type": "application/fhir+json"}


@pytest.fixture(scope="module")
def clients(server_url: str) -> Iterator[list[httpx.Client]]:
    made = [httpx.Client(base_url=server_url, timeout=60, headers={"Accept": "application/fhir+json"})
            for _ in range(WORKERS)]
    yield made
    for http in made:
        http.close()


def _race(clients: list[httpx.Client], calls: list[Callable[[httpx.Client], httpx.Response]]) -> list[httpx.Response]:
    with ThreadPoolExecutor(len(clients)) as pool:
        futures = [pool.submit(call, clients[i % len(clients)]) for i, call in enumerate(calls)]
        return [f.result() for f in futures]


def _patient(rid: str, n: int) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": rid, "name": [{"family": f"w{n}"}]}


def _put_entry(rid: str, n: int) -> dict[str, Any]:
    return {"resource": _patient(rid, n), "request": {"method": "PUT", "url": f"Patient/{rid}"}}


def _transaction(first: str, second: str, n: int) -> Callable[[httpx.Client], httpx.Response]:
    bundle = {"resourceType": "Bundle", "type": "transaction",
              "entry": [_put_entry(first, n), _put_entry(second, n)]}
    return lambda http: http.post("/", json=bundle, headers=FHIR_JSON)


def _single(rid: str, n: int) -> Callable[[httpx.Client], httpx.Response]:
    return lambda http: http.put(f"/Patient/{rid}", json=_patient(rid, n), headers=FHIR_JSON)


def _mixed_writes(a: str, b: str) -> tuple[list[Callable[[httpx.Client], httpx.Response]], dict[int, list[str]]]:
    """24 writes: transactions [A, B] and [B, A] and single PUTs of A and of B, interleaved;
    with the ids each one writes."""
    calls, touched = [], {}
    for n in range(24):
        kind = n % 4
        if kind == 0:
            calls.append(_transaction(a, b, n))
        elif kind == 1:
            calls.append(_transaction(b, a, n))
        else:
            calls.append(_single(a if kind == 2 else b, n))
        touched[n] = [a, b] if kind < 2 else [a if kind == 2 else b]
    return calls, touched


def _history_count(http: httpx.Client, rid: str) -> int:
    history = http.get(f"/Patient/{rid}/_history", params={"_count": "1000"}).json()
    return len(history.get("entry", []))


@pytest.mark.parametrize("rounds", range(ROUNDS))
@pytest.mark.parametrize("existing", [True, False], ids=["existing", "new"])
def test_crossed_transactions_and_single_puts(clients: list[httpx.Client], rounds: int, existing: bool) -> None:
    a, b = f"race-a-{uuid.uuid4().hex[:10]}", f"race-b-{uuid.uuid4().hex[:10]}"
    if existing:
        for rid in (a, b):
            assert clients[0].put(f"/Patient/{rid}", json=_patient(rid, -1), headers=FHIR_JSON).status_code == 201
    calls, touched = _mixed_writes(a, b)
    answers = _race(clients, calls)
    statuses = [r.status_code for r in answers]
    assert 500 not in statuses, [r.text for r in answers if r.status_code >= 500]
    assert set(statuses) <= {200, 201}, [r.text for r in answers if r.status_code >= 300]
    for rid in (a, b):
        writes = sum(rid in touched[n] for n in range(len(calls))) + (1 if existing else 0)
        assert _history_count(clients[0], rid) == writes
        assert clients[0].get(f"/Patient/{rid}").json()["meta"]["versionId"] == str(writes)
    # Exactly one write of each id created it.
    created = [r for r in answers if r.status_code == 201 or
               any(e["response"]["status"].startswith("201") for e in r.json().get("entry", []))]
    assert len(created) in ((0,) if existing else (1, 2))


def _patch_entry(rid: str, n: int) -> dict[str, Any]:
    ops = [{"op": "add", "path": "/name/-", "value": {"family": f"p{n}"}}]
    data = base64.b64encode(orjson.dumps(ops)).decode()
    return {"resource": {"resourceType": "Binary", "contentType": "application/json-patch+json", "data": data},
            "request": {"method": "PATCH", "url": f"Patient/{rid}"}}


@pytest.mark.parametrize("rounds", range(ROUNDS))
def test_crossed_patch_transactions_and_single_patches(clients: list[httpx.Client], rounds: int) -> None:
    """[PATCH A, PATCH B], [PATCH B, PATCH A] and single PATCHes: every patch applies, none is lost."""
    a, b = f"race-pa-{uuid.uuid4().hex[:10]}", f"race-pb-{uuid.uuid4().hex[:10]}"
    for rid in (a, b):
        assert clients[0].put(f"/Patient/{rid}", json=_patient(rid, -1), headers=FHIR_JSON).status_code == 201
    calls: list[Callable[[httpx.Client], httpx.Response]] = []
    expected: dict[str, list[str]] = {a: ["w-1"], b: ["w-1"]}
    for n in range(24):
        pair = (a, b) if n % 4 == 0 else (b, a)
        if n % 4 < 2:
            bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [_patch_entry(r, n) for r in pair]}
            calls.append(lambda http, bundle=bundle: http.post("/", json=bundle, headers=FHIR_JSON))
            targets = list(pair)
        else:
            rid = a if n % 4 == 2 else b
            ops = [{"op": "add", "path": "/name/-", "value": {"family": f"p{n}"}}]
            calls.append(lambda http, rid=rid, ops=ops: http.patch(
                f"/Patient/{rid}", json=ops, headers={"Content-Type": "application/json-patch+json"}))
            targets = [rid]
        for rid in targets:
            expected[rid].append(f"p{n}")
    answers = _race(clients, calls)
    assert [r.status_code for r in answers] == [200] * len(calls), [r.text for r in answers if r.status_code != 200]
    for rid in (a, b):
        current = clients[0].get(f"/Patient/{rid}").json()
        assert sorted(name["family"] for name in current["name"]) == sorted(expected[rid])
        assert current["meta"]["versionId"] == str(len(expected[rid]))
