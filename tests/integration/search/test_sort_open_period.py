"""_sort by a date parameter over open-ended Periods: the open end (stored as infinity) sorts as the
latest instant instead of failing to read back as a datetime (was a 400 "cannot be stored or compared")."""

from __future__ import annotations

import uuid

import httpx


def test_descending_date_sort_with_an_ongoing_period(client: httpx.Client) -> None:
    tag = uuid.uuid4().hex
    ids = []
    for period in ({"start": "2025-01-01T00:00:00Z", "end": "2025-01-02T00:00:00Z"},
                   {"start": "2025-02-01T00:00:00Z"},  # ongoing: no end
                   {"end": "2024-01-01T00:00:00Z"}):  # no start
        made = client.post("/Encounter", json={"resourceType": "Encounter", "status": "finished", "period": period,
                                               "identifier": [{"system": "urn:sort-test", "value": tag}],
                                               "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                                         "code": "AMB"}})
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])
    for sort, expected in (("-date", [ids[1], ids[0], ids[2]]), ("date", [ids[2], ids[0], ids[1]])):
        found = client.get("/Encounter", params={"identifier": f"urn:sort-test|{tag}", "_sort": sort, "_count": "2"})
        assert found.status_code == 200, found.text
        page = [e["resource"]["id"] for e in found.json()["entry"]]
        following = next(link["url"] for link in found.json()["link"] if link["relation"] == "next")
        rest = [e["resource"]["id"] for e in httpx.get(following).json()["entry"]]
        assert page + rest == expected, sort
