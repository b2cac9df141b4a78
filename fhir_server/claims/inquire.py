"""Claim/$inquire (Da Vinci PAS, http://hl7.org/fhir/us/davinci-pas/OperationDefinition-Claim-inquiry.html):
the current ClaimResponse of a submitted Claim, found by the Claim's business identifiers. In: a
Claim (or a Bundle whose first entry is one) carrying the identifier. The answer is the
ClaimResponse $submit stored (its current version: a pended claim shows its final decision once
reviewed), else the newest ClaimResponse whose ``request`` is that Claim; read under the
caller's access policy (a Claim or ClaimResponse it may not read is 404 like an unknown one).
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from ..errors import BadRequest, NotFound
from ..search.service import find_ids
from ..smart_auth.policy import Policy
from .facts import live_content
from .model import identifier_keys

__all__ = ["inquire", "CAPABILITY_ENTRY", "inquiry_claim"]

CAPABILITY_ENTRY = {"name": "inquire",
                    "definition": "http://hl7.org/fhir/us/davinci-pas/OperationDefinition/Claim-inquiry"}


def inquiry_claim(body: Any) -> dict[str, Any]:
    if isinstance(body, dict) and body.get("resourceType") == "Bundle":
        body = ((body.get("entry") or [{}])[0] or {}).get("resource")
    if not isinstance(body, dict) or body.get("resourceType") != "Claim":
        raise BadRequest("$inquire takes a Claim, or a Bundle whose first entry is the Claim, with its identifier")
    if not identifier_keys(body):
        raise BadRequest("$inquire needs Claim.identifier: the Claim is found by its business identifier")
    return body


async def _claim_id(conn: AsyncConnection[Any], keys: list[str], policy: Policy) -> str:
    cur = await conn.execute("SELECT claim_id FROM claims_identifier WHERE identifier = ANY(%s)"
                             " ORDER BY claim_id LIMIT 1", (keys,))
    row = await cur.fetchone()
    if row is None:
        raise NotFound("No Claim with this identifier was submitted")
    await policy.check_visible(conn, "Claim", row[0], "r")
    return str(row[0])


async def inquire(conn: AsyncConnection[Any], claim: dict[str, Any], policy: Policy) -> dict[str, Any]:
    claim_id = await _claim_id(conn, identifier_keys(claim), policy)
    cur = await conn.execute("SELECT claim_response_id FROM claims_submission WHERE claim_id = %s", (claim_id,))
    row = await cur.fetchone()
    candidates = [str(row[0])] if row else []
    candidates += await find_ids(conn, "ClaimResponse", [("request", f"Claim/{claim_id}")], 100,
                                 extra=policy.readable("ClaimResponse", "s"))
    found = []
    for rid in dict.fromkeys(candidates):
        response = await live_content(conn, "ClaimResponse", rid)
        if response is not None:
            found.append(response)
    if not found:
        raise NotFound(f"Claim/{claim_id} has no ClaimResponse yet")
    await policy.check_visible(conn, "ClaimResponse", found[0]["id"], "r")
    return found[0] if row else max(found, key=lambda r: r["meta"]["lastUpdated"])
