"""history at instance, type and system level with _since, _at, _count and paging (http.html#history)."""

from __future__ import annotations

import time
import uuid

import httpx


def _org(rid: str, name: str) -> dict[str, object]:
    return {"resourceType": "Organization", "id": rid, "name": name}


def test_instance_history_newest_first(client: httpx.Client) -> None:
    rid = f"org-{uuid.uuid4().hex[:8]}"
    client.put(f"/Organization/{rid}", json=_org(rid, "v1"))
    client.put(f"/Organization/{rid}", json=_org(rid, "v2"))
    client.delete(f"/Organization/{rid}")
    bundle = client.get(f"/Organization/{rid}/_history").json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "history"
    assert bundle["total"] == 3
    entries = bundle["entry"]
    assert [e["request"]["method"] for e in entries] == ["DELETE", "PUT", "PUT"]
    assert [e["response"]["etag"] for e in entries] == ['W/"3"', 'W/"2"', 'W/"1"']
    assert "resource" not in entries[0]
    assert entries[1]["resource"]["name"] == "v2" and entries[2]["resource"]["name"] == "v1"
    assert entries[0]["request"]["url"] == f"Organization/{rid}"
    assert entries[2]["response"]["status"].startswith("201")


def test_history_of_unknown_resource_is_404(client: httpx.Client) -> None:
    assert client.get("/Organization/nope-nope/_history").status_code == 404


def test_count_and_next_links_walk_every_version(client: httpx.Client) -> None:
    rid = f"org-{uuid.uuid4().hex[:8]}"
    for n in range(5):
        client.put(f"/Organization/{rid}", json=_org(rid, f"n{n}"))
    seen: list[str] = []
    url: str | None = f"/Organization/{rid}/_history?_count=2"
    pages = 0
    while url is not None:
        bundle = client.get(url).json()
        assert len(bundle.get("entry", [])) <= 2
        seen += [e["resource"]["meta"]["versionId"] for e in bundle.get("entry", [])]
        links = {link["relation"]: link["url"] for link in bundle["link"]}
        url = links.get("next")
        pages += 1
    assert seen == ["5", "4", "3", "2", "1"]
    assert pages == 3


def test_since_filters_by_last_updated(client: httpx.Client) -> None:
    rid = f"org-{uuid.uuid4().hex[:8]}"
    client.put(f"/Organization/{rid}", json=_org(rid, "old"))
    time.sleep(0.05)
    cut = client.get(f"/Organization/{rid}").json()["meta"]["lastUpdated"]
    time.sleep(0.05)
    client.put(f"/Organization/{rid}", json=_org(rid, "new"))
    after_first = client.get(f"/Organization/{rid}/_history", params={"_since": cut}).json()
    # _since is inclusive ("at or after"): version 1 was written exactly at `cut`.
    assert [e["resource"]["name"] for e in after_first["entry"]] == ["new", "old"]
    future = client.get(f"/Organization/{rid}/_history", params={"_since": "2999-01-01T00:00:00Z"}).json()
    assert future.get("entry", []) == []


def test_at_returns_version_current_at_that_time(client: httpx.Client) -> None:
    rid = f"org-{uuid.uuid4().hex[:8]}"
    v1 = client.put(f"/Organization/{rid}", json=_org(rid, "first")).json()["meta"]["lastUpdated"]
    time.sleep(0.05)
    client.put(f"/Organization/{rid}", json=_org(rid, "second"))
    at_v1 = client.get(f"/Organization/{rid}/_history", params={"_at": v1}).json()
    assert [e["resource"]["name"] for e in at_v1["entry"]] == ["first"]
    at_future = client.get(f"/Organization/{rid}/_history", params={"_at": "2999"}).json()
    assert [e["resource"]["name"] for e in at_future["entry"]] == ["second"]
    at_past = client.get(f"/Organization/{rid}/_history", params={"_at": "2001"}).json()
    assert at_past.get("entry", []) == []


def test_type_and_system_history(client: httpx.Client) -> None:
    marker = uuid.uuid4().hex[:8]
    client.put(f"/Organization/t-{marker}", json=_org(f"t-{marker}", "type-level"))
    client.put(f"/Location/l-{marker}", json={"resourceType": "Location", "id": f"l-{marker}", "name": "x"})
    typed = client.get("/Organization/_history", params={"_count": "500"}).json()
    assert all(e["fullUrl"].split("/")[-2] == "Organization" for e in typed["entry"])
    assert any(e["fullUrl"].endswith(f"/Organization/t-{marker}") for e in typed["entry"])
    system = client.get("/_history", params={"_count": "2"}).json()
    urls = [e["fullUrl"] for e in system["entry"]]
    assert urls[0].endswith(f"/Location/l-{marker}") and urls[1].endswith(f"/Organization/t-{marker}")


def test_bad_history_parameters_are_400(client: httpx.Client) -> None:
    assert client.get("/_history", params={"_since": "yesterday"}).status_code == 400
    assert client.get("/_history", params={"_count": "-1"}).status_code == 400
    assert client.get("/_history", params={"_at": "2020-13"}).status_code == 400
