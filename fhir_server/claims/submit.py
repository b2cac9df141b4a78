"""Claim/$submit (http://hl7.org/fhir/R4/claim-operation-submit.html; the Da Vinci PAS request
shape: a Bundle whose first entry is the Claim, followed by the resources it references).

The submission is turned into a transaction and stored by the transaction machinery
(``exchange.bundle.process_transaction``: ``urn:uuid:`` fullUrls and conditional references
resolved as in any transaction). Entries without a ``request`` are written as PUT ``Type/id``
when the resource has an id (so the Claim's relative references keep pointing at them) and as
POST otherwise; the Claim itself is always a POST. In the same PostgreSQL transaction:

- before anything is written, the Claim's identifiers are locked (advisory locks) and looked up:
  an identical earlier submission returns its ClaimResponse (current version), a different Claim
  with the same identifier is 409; two concurrent duplicates queue on the lock, so one Claim;
- a submission with ``Claim.status = cancelled`` and the identifier of a submitted Claim cancels it
  (Da Vinci PAS cancellation): that Claim and its ClaimResponse become ``cancelled``, nothing else
  is stored, and the ClaimResponse is the answer; for an unknown identifier it is 404;
- after the entries: the Claim is adjudicated (insurers adjudicated here) or left ``queued``
  (other insurers), the ClaimResponse is created and the submission remembered.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from psycopg import AsyncConnection

from ..audit.trail import record_versions
from ..errors import BadRequest, Conflict, NotFound
from ..exchange.bundle import BundleContext
from ..exchange.execute import EntryResult
from ..resources import interactions
from ..rules.context import writing_as
from ..smart_auth.policy import OPEN_POLICY
from .adjudicate import Decision, Plan, adjudicate, pended
from .facts import live_content, read_facts
from .model import InvalidClaim, check_claim, claim_currency, identifier_keys, reference_id
from .response import claim_response

__all__ = ["Submission", "parse_submission", "SubmitHooks", "CAPABILITY_ENTRY", "claim_digest"]

CAPABILITY_ENTRY = {"name": "submit", "definition": "http://hl7.org/fhir/OperationDefinition/Claim-submit"}
IDENTIFIER_SPACE = 13  # advisory lock space of Claim identifiers (resources.locks uses 7 and 11)


@dataclass
class Submission:
    claim: dict[str, Any]
    bundle: dict[str, Any]  # the transaction Bundle that stores it
    is_bundle: bool


def _entry(resource: Any, entry: dict[str, Any], first: bool) -> dict[str, Any]:
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise BadRequest("Every entry of a $submit Bundle holds a resource")
    out: dict[str, Any] = {"resource": resource}
    if entry.get("fullUrl"):
        out["fullUrl"] = entry["fullUrl"]
    rtype, rid = resource["resourceType"], resource.get("id")
    if entry.get("request") and not first:
        out["request"] = entry["request"]
    elif isinstance(rid, str) and not first:
        out["request"] = {"method": "PUT", "url": f"{rtype}/{rid}"}
    else:
        out["request"] = {"method": "POST", "url": rtype}
    return out


def parse_submission(body: Any) -> Submission:
    """A Claim, or a Bundle with the Claim first (a Parameters ``resource`` parameter holding either)."""
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        body = next((p.get("resource") for p in body.get("parameter") or [] if p.get("name") == "resource"), None)
    if not isinstance(body, dict) or body.get("resourceType") not in ("Claim", "Bundle"):
        raise BadRequest("$submit takes a Claim, or a Bundle whose first entry is the Claim")
    is_bundle = body["resourceType"] == "Bundle"
    raw = body.get("entry") or [] if is_bundle else [{"resource": body}]
    if not raw or not isinstance(raw[0], dict) or (raw[0].get("resource") or {}).get("resourceType") != "Claim":
        raise BadRequest("The first entry of a $submit Bundle must be the Claim")
    claim = raw[0]["resource"]
    check_claim(claim)
    if not identifier_keys(claim):
        raise InvalidClaim("Claim.identifier is missing: $submit needs the Claim's business identifier, by which a "
                           "re-submission is recognised")
    entries = [_entry(e.get("resource") if isinstance(e, dict) else None, e if isinstance(e, dict) else {}, n == 0)
               for n, e in enumerate(raw)]
    return Submission(claim, {"resourceType": "Bundle", "type": "transaction", "entry": entries}, is_bundle)


def claim_digest(claim: dict[str, Any]) -> str:
    """The Claim as submitted, without what the server stamps (id, meta)."""
    content = {k: v for k, v in claim.items() if k not in ("id", "meta")}
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()


@dataclass
class SubmitHooks:
    """``exchange.bundle.TransactionHooks`` of one submission."""

    ctx: BundleContext
    submission: Submission
    plan: Plan
    adjudicated_insurers: frozenset[str]
    default_currency: str
    digest: str
    claim: dict[str, Any] = field(default_factory=dict)
    response: dict[str, Any] = field(default_factory=dict)
    replayed: bool = False

    async def before(self, conn: AsyncConnection[Any]) -> bool:
        self.claim, self.response, self.replayed = {}, {}, False
        keys = identifier_keys(self.submission.claim)
        await conn.execute("SELECT count(pg_advisory_xact_lock(hashtextextended(k, %s)))"
                           " FROM (SELECT unnest(%s::text[]) AS k ORDER BY 1) AS ordered", (IDENTIFIER_SPACE, keys))
        cur = await conn.execute(
            "SELECT s.claim_id, s.request_hash, s.claim_response_id FROM claims_identifier i"
            " JOIN claims_submission s ON s.claim_id = i.claim_id WHERE i.identifier = ANY(%s) LIMIT 1", (keys,))
        row = await cur.fetchone()
        cancelling = self.submission.claim.get("status") == "cancelled"
        if row is None and cancelling:
            raise NotFound("No Claim with this identifier was submitted: there is nothing to cancel")
        if row is None:
            return True
        if cancelling:
            await self._cancel(conn, str(row[0]), str(row[2]))
            return False
        if row[1] != self.digest:
            raise Conflict(f"Claim/{row[0]} was submitted earlier with this identifier and different content: "
                           "a new claim needs a new identifier")
        await self.ctx.policy.check_visible(conn, "Claim", row[0], "r")
        self.claim = await live_content(conn, "Claim", row[0]) or {}
        self.response = await live_content(conn, "ClaimResponse", row[2]) or {}
        self.replayed = True
        return False

    async def _cancel(self, conn: AsyncConnection[Any], claim_id: str, response_id: str) -> None:
        """PAS cancellation: the submitted Claim and its ClaimResponse become ``cancelled`` (a decided
        ClaimResponse keeps its adjudication: the write rule allows only its status to change)."""
        claim = await live_content(conn, "Claim", claim_id)
        response = await live_content(conn, "ClaimResponse", response_id)
        if claim is None or response is None:
            raise NotFound(f"Claim/{claim_id} or its ClaimResponse is no longer stored: there is nothing to cancel")
        versions = []
        if claim.get("status") != "cancelled":
            body = {k: v for k, v in claim.items() if k != "meta"} | {"status": "cancelled"}
            versions.append((await interactions.update(conn, self.ctx.indexer, "Claim", claim_id, body,
                                                       policy=self.ctx.policy)).version)
        if response.get("status") != "cancelled":
            body = {k: v for k, v in response.items() if k != "meta"} | {"status": "cancelled"}
            versions.append((await interactions.update(conn, self.ctx.indexer, "ClaimResponse", response_id, body,
                                                       policy=OPEN_POLICY)).version)
            writing_as(self.ctx.policy)
        await record_versions(self.ctx.trail, conn, self.ctx.policy.access, "update", versions)
        self.claim = await live_content(conn, "Claim", claim_id) or {}
        self.response = await live_content(conn, "ClaimResponse", response_id) or {}

    def _decide(self, claim: dict[str, Any], currency: str) -> Decision | None:
        insurer = reference_id(claim.get("insurer"), "Organization")
        if insurer is None or insurer[1] not in self.adjudicated_insurers:
            return pended(claim, currency, "Queued for the insurer's own system")
        return None

    async def after(self, conn: AsyncConnection[Any], results: dict[int, EntryResult]) -> None:
        location = results[0].location or ""
        claim_id = location.split("/")[1]
        claim = await live_content(conn, "Claim", claim_id)
        assert claim is not None
        currency = claim_currency(claim) or self.default_currency
        decision = self._decide(claim, currency)
        if decision is None:
            decision = adjudicate(self.plan, await read_facts(conn, claim, currency), currency)
        outcome = await interactions.create(conn, self.ctx.indexer, "ClaimResponse",
                                            claim_response(claim, decision, currency), policy=OPEN_POLICY)
        writing_as(self.ctx.policy)  # the submitter stays the writer of what follows
        await record_versions(self.ctx.trail, conn, self.ctx.policy.access, "create", [outcome.version])
        await conn.execute("INSERT INTO claims_submission (claim_id, request_hash, claim_response_id)"
                           " VALUES (%s, %s, %s)", (claim_id, self.digest, outcome.version.id))
        # Under the identifiers' advisory locks taken in ``before``: one submitted Claim per identifier.
        await conn.execute("INSERT INTO claims_identifier (identifier, claim_id) SELECT unnest(%s::text[]), %s",
                           (identifier_keys(claim), claim_id))
        self.claim, self.response = claim, orjson.loads(outcome.version.body or b"{}")
