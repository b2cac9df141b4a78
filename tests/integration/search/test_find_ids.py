"""find_ids (conditional operations) on real PostgreSQL: token, string, reference, date, _id.

Expected ids are worked out by hand from search.html for the three patients below.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from fhir_server.db import Database
from fhir_server.errors import BadRequest
from fhir_server.search import indexer
from fhir_server.search.service import find_ids

PATIENTS: list[dict[str, Any]] = [
    {"resourceType": "Patient", "id": "p1", "identifier": [{"system": "http://mrn", "value": "A1"}],
     "name": [{"family": "Müller", "given": ["Jürgen"]}], "birthDate": "1980-05-17",
     "generalPractitioner": [{"reference": "Practitioner/dr1"}]},
    {"resourceType": "Patient", "id": "p2", "identifier": [{"system": "http://other", "value": "A1"}],
     "name": [{"family": "Mullins", "given": ["Ann"]}], "birthDate": "1980",
     "generalPractitioner": [{"reference": "Practitioner/dr2"}]},
    {"resourceType": "Patient", "id": "p3", "identifier": [{"value": "B2"}],
     "name": [{"family": "Smith"}], "birthDate": "1999-12-31"},
]


async def _seed(url: str) -> None:
    db = Database(url, 1, 2)
    await db.open()
    try:
        async with db.transaction() as conn:
            for p in PATIENTS:
                await conn.execute(
                    "INSERT INTO resource (resource_type, id, version_id, txid, last_updated, content)"
                    " VALUES ('Patient', %s, 1, nextval('fhir_txid_seq'), now(), %s::jsonb)",
                    (p["id"], __import__("orjson").dumps(p).decode()))
                await indexer.index_resource(conn, "Patient", p["id"], p)
    finally:
        await db.close()


async def _find(url: str, params: list[tuple[str, str]]) -> list[str]:
    db = Database(url, 1, 2)
    await db.open()
    try:
        async with db.connection() as conn:
            return sorted(await find_ids(conn, "Patient", params, 10))
    finally:
        await db.close()


@pytest.fixture(scope="module")
def url(database_url: str) -> Iterator[str]:
    asyncio.run(_seed(database_url))
    yield database_url


@pytest.mark.parametrize(("params", "expected"), [
    ([("identifier", "http://mrn|A1")], ["p1"]),
    ([("identifier", "A1")], ["p1", "p2"]),
    ([("identifier", "|B2")], ["p3"]),
    ([("identifier", "http://other|")], ["p2"]),
    ([("name", "mul")], ["p1", "p2"]),  # accent-insensitive starts-with: Müller, Mullins
    ([("name", "jurg")], ["p1"]),
    ([("name:exact", "Müller")], ["p1"]),
    ([("name:exact", "muller")], []),
    ([("name:contains", "LLIN")], ["p2"]),
    ([("family", "smith,mullins")], ["p2", "p3"]),
    ([("birthdate", "1980")], ["p1", "p2"]),  # p2's whole year lies in 1980
    ([("birthdate", "1980-05")], ["p1"]),  # p2 (all of 1980) is not within May 1980
    ([("birthdate", "ge1990")], ["p3"]),
    ([("birthdate", "lt1980-06")], ["p1", "p2"]),
    ([("general-practitioner", "Practitioner/dr1")], ["p1"]),
    ([("general-practitioner", "dr2")], ["p2"]),
    ([("general-practitioner:missing", "true")], ["p3"]),
    ([("_id", "p1,p3")], ["p1", "p3"]),
    ([("identifier", "A1"), ("name", "mullins")], ["p2"]),
])
def test_find_ids(url: str, params: list[tuple[str, str]], expected: list[str]) -> None:
    assert asyncio.run(_find(url, params)) == expected


@pytest.mark.parametrize("params", [
    [("nonsense", "x")],
    [("birthdate", "19x0")],
    [("_sort", "name")],
    [("identifier", "a|b|c")],
])
def test_find_ids_rejects(url: str, params: list[tuple[str, str]]) -> None:
    with pytest.raises(BadRequest):
        asyncio.run(_find(url, params))
