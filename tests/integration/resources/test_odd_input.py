"""Odd input that used to answer 500 (issue 11, part 8) is a 400 OperationOutcome over real HTTP.

Non-ASCII digits (``²`` passes ``str.isdigit`` but not ``int``), dates whose range leaves
years 0001-9999 (``9999-12-31`` ends on 10000-01-01) and time-zone offsets beyond FHIR's
+-14:00, in search, POST _search, history, AuditEvent search, $everything and a batch entry.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

SUPERSCRIPT_TWO = "\u00b2"
OUT_OF_RANGE = "is outside the supported range of dates (years 0001-9999, UTC)"


@pytest.fixture(scope="module", autouse=True)
def patient(client: httpx.Client) -> None:
    assert client.put("/Patient/odd1", json={"resourceType": "Patient", "id": "odd1",
                                             "birthDate": "1990-01-01"}).status_code in (200, 201)


def _outcome(response: httpx.Response, status: int, code: str, text: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == code
    assert body["issue"][0]["diagnostics"] == text


def test_non_ascii_count_in_search_and_post_search(client: httpx.Client) -> None:
    text = f"_count={SUPERSCRIPT_TWO!r} is not a non-negative integer"
    _outcome(client.get("/Patient", params={"_count": SUPERSCRIPT_TWO}), 400, "invalid", text)
    _outcome(client.post("/Patient/_search", data={"_count": SUPERSCRIPT_TWO}), 400, "invalid", text)
    _outcome(client.get("/Patient", params={"_count": "\u0663"}), 400, "invalid",  # ARABIC-INDIC THREE
             "_count='\u0663' is not a non-negative integer")


@pytest.mark.parametrize("path", ["/Patient/odd1/_history", "/Patient/_history", "/_history"])
def test_non_ascii_count_and_cursor_in_history(client: httpx.Client, path: str) -> None:
    _outcome(client.get(path, params={"_count": SUPERSCRIPT_TWO}), 400, "invalid",
             f"_count must be a non-negative integer, not {SUPERSCRIPT_TWO!r}")
    _outcome(client.get(path, params={"_cursor": SUPERSCRIPT_TWO}), 400, "invalid",
             "_cursor is not valid: use the paging links the server returned")


def test_non_ascii_count_and_cursor_in_audit_event_search(client: httpx.Client) -> None:
    _outcome(client.get("/AuditEvent", params={"_count": SUPERSCRIPT_TWO}), 400, "invalid",
             f"_count must be a non-negative integer, not {SUPERSCRIPT_TWO!r}")
    _outcome(client.get("/AuditEvent", params={"_cursor": SUPERSCRIPT_TWO}), 400, "invalid",
             "_cursor is not valid: use the paging links the server returned")


def test_non_ascii_search_cursor(client: httpx.Client) -> None:
    _outcome(client.get("/Patient", params={"_cursor": SUPERSCRIPT_TWO}), 400, "invalid",
             "The paging cursor (_cursor) is not valid")


def test_non_ascii_version_id(client: httpx.Client) -> None:
    _outcome(client.get(f"/Patient/odd1/_history/{SUPERSCRIPT_TWO}"), 400, "invalid",
             f"Version id {SUPERSCRIPT_TWO!r} is not valid: version ids are whole numbers")
    assert client.get("/Patient/odd1/_history/abc").status_code == 404  # a valid id, just not a version
    assert client.get("/Patient/odd1/_history/1").status_code == 200


def test_one_odd_batch_entry_gets_its_own_400(client: httpx.Client) -> None:
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": f"Patient/odd1/_history/{SUPERSCRIPT_TWO}"}},
        {"request": {"method": "GET", "url": "Patient/odd1"}}]}
    response = client.post("", json=bundle)
    assert response.status_code == 200, response.text
    first, second = response.json()["entry"]
    assert first["response"]["status"] == "400 Bad Request"
    assert first["response"]["outcome"]["issue"][0]["code"] == "invalid"
    assert second["response"]["status"] == "200 OK" and second["resource"]["id"] == "odd1"


@pytest.mark.parametrize(("path", "params", "name", "value"), [
    ("/Patient", {"birthdate": "9999-12-31"}, "birthdate", "9999-12-31"),
    ("/Patient", {"birthdate": "gt9999-12-31T23:00:00-05:00"}, "birthdate", "9999-12-31T23:00:00-05:00"),
    ("/Patient", {"_lastUpdated": "gt9999-12-31T23:59:59Z"}, "_lastUpdated", "9999-12-31T23:59:59Z"),
    ("/Patient/_history", {"_since": "9999-12-31T23:59:59Z"}, "_since", "9999-12-31T23:59:59Z"),
    ("/Patient/odd1/_history", {"_at": "9999-12-31"}, "_at", "9999-12-31"),
    ("/_history", {"_since": "0001-01-01T00:00:00+01:00"}, "_since", "0001-01-01T00:00:00+01:00"),
    ("/Patient/odd1/$everything", {"_since": "9999-12-31T23:59:59Z"}, "_lastUpdated", "9999-12-31T23:59:59Z"),
    ("/AuditEvent", {"date": "9999-12-31"}, "date", "9999-12-31"),
])
def test_dates_beyond_year_9999(client: httpx.Client, path: str, params: dict[str, str], name: str,
                                value: str) -> None:
    _outcome(client.get(path, params=params), 400, "invalid", f"{name}={value!r} {OUT_OF_RANGE}")


def test_post_search_with_a_date_beyond_year_9999(client: httpx.Client) -> None:
    _outcome(client.post("/Patient/_search", data={"birthdate": "9999-12-31"}), 400, "invalid",
             f"birthdate='9999-12-31' {OUT_OF_RANGE}")


def test_approximate_dates_that_widen_past_year_9999(client: httpx.Client) -> None:
    _outcome(client.get("/Patient", params={"birthdate": "ap9999-12-30"}), 400, "invalid",
             "ap9999-12-30: the approximate range leaves the supported years 0001-9999")


@pytest.mark.parametrize(("path", "name"), [("/Patient/odd1/_history", "_at"), ("/_history", "_since"),
                                            ("/Patient", "_lastUpdated")])
def test_time_zone_offsets_beyond_14_hours(client: httpx.Client, path: str, name: str) -> None:
    value = "2020-01-01T00:00:00+99:00"
    _outcome(client.get(path, params={name: value}), 400, "invalid",
             f"{name}={value!r}: a time zone offset lies between -14:00 and +14:00")


def test_the_last_representable_values_still_work(client: httpx.Client) -> None:
    assert client.get("/Patient", params={"birthdate": "lt9999-12-30"}).json()["total"] >= 1
    assert client.get("/Patient/odd1/_history", params={"_at": "2020-01-01T00:00:00+14:00"}).status_code == 200
    assert client.get("/Patient", params={"_count": "2"}).status_code == 200
