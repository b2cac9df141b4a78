"""Organization.partOf makes no cycle, by any path and under concurrency (issue 15)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from .helpers import JSON_PATCH, create, diagnostics, fresh, put_entry, transaction


def _org(name: str, parent: str | None = None, rid: str | None = None) -> dict[str, object]:
    body: dict[str, object] = {"resourceType": "Organization", "name": name}
    if parent is not None:
        body["partOf"] = {"reference": f"Organization/{parent}"}
    if rid is not None:
        body["id"] = rid
    return body


def _cycle(org: str, parent: str) -> str:
    return (f"Department tree rule (admissions.organization-tree): Organization/{org} partOf "
            f"Organization/{parent} makes a cycle (the chain of partOf comes back to it)")


def test_cycle_refused_by_put_patch_and_transaction(client: httpx.Client) -> None:
    hospital = create(client, _org("Hospital"))
    dept = create(client, _org("Medicine", hospital["id"]))
    unit = create(client, _org("Cardiology unit", dept["id"]))
    put = client.put(f"/Organization/{hospital['id']}", json={**hospital, "partOf": {
        "reference": f"Organization/{unit['id']}"}})
    assert put.status_code == 422, put.text
    assert diagnostics(put) == _cycle(hospital["id"], unit["id"])
    patch = client.patch(f"/Organization/{dept['id']}", headers=JSON_PATCH, content=(
        f'[{{"op": "replace", "path": "/partOf/reference", "value": "Organization/{unit["id"]}"}}]').encode())
    assert patch.status_code == 422 and diagnostics(patch) == _cycle(dept["id"], unit["id"])
    bundle = client.post("/", json=transaction(put_entry({**hospital, "partOf": {
        "reference": f"Organization/{dept['id']}"}})))
    assert bundle.status_code == 422 and diagnostics(bundle).endswith(_cycle(hospital["id"], dept["id"]))
    itself = client.put(f"/Organization/{unit['id']}", json={**unit, "partOf": {
        "reference": f"Organization/{unit['id']}"}})
    assert itself.status_code == 422
    assert diagnostics(itself) == (f"Department tree rule (admissions.organization-tree): Organization/{unit['id']}"
                                   " cannot be partOf itself")
    assert "partOf" not in client.get(f"/Organization/{hospital['id']}").json()


def test_a_cycle_made_inside_one_transaction_is_refused(client: httpx.Client) -> None:
    a, b = fresh("org-"), fresh("org-")
    response = client.post("/", json=transaction(put_entry(_org("A", b, a)), put_entry(_org("B", a, b))))
    assert response.status_code == 422, response.text
    assert client.get(f"/Organization/{a}").status_code == 404


def test_moving_a_department_elsewhere_in_the_tree_is_allowed(client: httpx.Client) -> None:
    hospital = create(client, _org("Hospital"))
    one, two = create(client, _org("One", hospital["id"])), create(client, _org("Two", hospital["id"]))
    moved = client.put(f"/Organization/{two['id']}", json={**two, "partOf": {"reference": f"Organization/{one['id']}"}})
    assert moved.status_code == 200, moved.text


def test_two_concurrent_writes_cannot_make_a_cycle_together(server_url: str) -> None:
    with httpx.Client(base_url=server_url, timeout=60) as http:
        for _ in range(5):
            a, b = create(http, _org("A")), create(http, _org("B"))
            bodies = [(a, b), (b, a)]
            with ThreadPoolExecutor(max_workers=2) as pool:
                codes = sorted(pool.map(lambda pair: http.put(f"/Organization/{pair[0]['id']}", json={
                    **pair[0], "partOf": {"reference": f"Organization/{pair[1]['id']}"}}).status_code, bodies))
            assert codes == [200, 422]
