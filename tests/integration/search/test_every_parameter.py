"""Every official R4 SearchParameter finds a resource that carries a value for it.

For each (parameter, resource type) the resource and the search value come from
``samples`` (chosen by hand per parameter type and FHIR type, from search.html); each
resource is indexed by the indexer and must be among ``find_ids`` for its own value.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from fhir_server.db import Database
from fhir_server.definitions import definitions
from fhir_server.search import indexer
from fhir_server.search.service import find_ids

from .samples import composite_sample, sample_for

SKIP_CODES = {"_lastUpdated", "_text", "_content", "_query", "near"}  # covered by the HTTP tests


def _cases() -> list[tuple[str, str, dict[str, Any], str]]:
    by_url = {sp["url"]: sp for sp in definitions().search_parameters}
    cases = []
    for sp in definitions().search_parameters:
        if sp["code"] in SKIP_CODES:
            continue
        for base in sp["base"]:
            rtype = "Basic" if base in ("Resource", "DomainResource") else base
            if sp["code"] == "_id":
                cases.append((rtype, "_id", {"resourceType": rtype}, "SELF"))
                continue
            if sp["code"] == "deceased":
                cases.append((rtype, "deceased", {"resourceType": rtype, "deceasedBoolean": True}, "true"))
                continue
            if sp["type"] == "composite":
                made = composite_sample(sp, rtype, by_url)
            elif base in ("Resource", "DomainResource"):
                made = sample_for({**sp, "expression": sp["expression"].replace(base + ".", "Basic.")}, rtype)
            else:
                made = sample_for(sp, rtype)
            assert made is not None, f"no sample for {rtype}.{sp['code']}"
            cases.append((rtype, sp["code"], made[0], made[1]))
    return cases


CASES = _cases()


async def _run(url: str) -> list[str]:
    db = Database(url, 1, 2)
    await db.open()
    failures = []
    try:
        async with db.transaction() as conn:
            for n, (rtype, _code, resource, _value) in enumerate(CASES):
                rid = f"s{n}"
                resource = {**resource, "id": rid}
                await conn.execute(
                    "INSERT INTO resource (resource_type, id, version_id, txid, last_updated, content)"
                    " VALUES (%s, %s, 1, nextval('fhir_txid_seq'), now(), %s::jsonb)",
                    (rtype, rid, orjson.dumps(resource).decode()))
                await indexer.index_resource(conn, rtype, rid, resource)
        async with db.connection() as conn:
            for n, (rtype, code, _resource, value) in enumerate(CASES):
                rid = f"s{n}"
                ids = await find_ids(conn, rtype, [(code, rid if value == "SELF" else value)], 10_000)
                if rid not in ids:
                    failures.append(f"{rtype}?{code}={value}")
    finally:
        await db.close()
    return failures


def test_case_count() -> None:
    assert len(CASES) > 1600  # every (official parameter, base type) pair except SKIP_CODES


def test_every_official_parameter_finds_its_resource(database_url: str) -> None:
    failures = asyncio.run(_run(database_url))
    assert failures == [], f"{len(failures)} parameters did not find their resource: {failures[:20]}"
