"""Custom SearchParameter resources and ``reindex`` (searchparameter.html): a new parameter
applies to writes after it is stored; existing resources become findable after reindex."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from fhir_server.db import Database
from fhir_server.search import indexer
from fhir_server.search.reindex import reindex
from fhir_server.search.service import find_ids

EYE = "http://example.org/fhir/StructureDefinition/eye-colour"
SEARCH_PARAMETER = {
    "resourceType": "SearchParameter", "id": "eye-colour", "url": "http://example.org/fhir/SearchParameter/eye-colour",
    "name": "eye-colour", "status": "active", "code": "eye-colour", "base": ["Patient"], "type": "string",
    "expression": f"Patient.extension('{EYE}').value", "description": "Eye colour",
}


def _patient(pid: str, colour: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "extension": [{"url": EYE, "valueString": colour}]}


async def _write(conn: Any, resource: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO resource (resource_type, id, version_id, txid, last_updated, content)"
        " VALUES (%s, %s, 1, nextval('fhir_txid_seq'), now(), %s::jsonb)",
        (resource["resourceType"], resource["id"], orjson.dumps(resource).decode()))
    await indexer.index_resource(conn, resource["resourceType"], resource["id"], resource)


async def _scenario(url: str) -> dict[str, Any]:
    db = Database(url, 1, 2)
    await db.open()
    out: dict[str, Any] = {}
    try:
        async with db.transaction() as conn:
            await _write(conn, _patient("old", "blue"))
            await _write(conn, SEARCH_PARAMETER)
            await _write(conn, _patient("new", "brown"))
        async with db.connection() as conn:
            out["brown"] = await find_ids(conn, "Patient", [("eye-colour", "brown")], 10)
            out["blue_before"] = await find_ids(conn, "Patient", [("eye-colour", "blue")], 10)
        calls: list[tuple[int, int]] = []
        out["reindexed"] = await reindex(db, ["Patient"], lambda done, total: calls.append((done, total)))
        out["progress"] = calls
        async with db.connection() as conn:
            out["blue_after"] = await find_ids(conn, "Patient", [("eye-colour", "blue")], 10)
    finally:
        await db.close()
    return out


def test_custom_parameter_and_reindex(database_url: str) -> None:
    out = asyncio.run(_scenario(database_url))
    assert out["brown"] == ["new"]
    assert out["blue_before"] == []  # written before the parameter existed
    assert out["reindexed"] == 2
    assert out["progress"][0] == (0, 2) and out["progress"][-1] == (2, 2)
    assert out["blue_after"] == ["old"]
