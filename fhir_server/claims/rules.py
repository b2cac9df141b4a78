"""The write rules of Claim and ClaimResponse (docs/rules.md), on every path that writes (REST,
PATCH, bundles, ``fhir-server load``, $submit).

- Claim: amounts in one currency, no negative quantity or price (``model.check_amounts``: 422;
  what only adjudication needs, such as an insurer, is $submit's check: a stored Claim, e.g.
  Synthea's, may lack it). A business identifier names one *submitted* Claim only, kept by
  $submit (``submit.SubmitHooks``: advisory locks on the identifiers, then ``claims_identifier``'s
  primary key); Claims written by REST, bundles or ``load`` are records from elsewhere and may
  share one (the official R4 examples Claim-100152/100154/100155 do).
- ClaimResponse: ``queued`` may become ``complete``/``partial``/``error`` (a reviewer's update);
  once decided, the adjudication (outcome, items, totals, payment) never changes (409). When a
  ClaimResponse of a ``use=claim`` Claim is decided (created decided, or its ``queued`` version
  replaced), its deductible is added to the Coverage's plan year and the ExplanationOfBenefit is
  written, in the same transaction.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from psycopg import AsyncConnection

from ..errors import Conflict
from ..resources import repository
from ..rules import Change, register
from ..search import indexer
from .eob import explanation_of_benefit
from .facts import live_content, record_deductible
from .model import amount, check_amounts, reference_id, service_date
from .search_parameters import register_search_parameters

__all__ = ["guard_claim", "guard_claim_response", "DECIDED"]

DECIDED = frozenset({"complete", "partial", "error"})
ADJUDICATED = ("outcome", "item", "addItem", "total", "payment", "error")


async def guard_claim(conn: AsyncConnection[Any], change: Change) -> None:
    new = dict(change.new) if change.new is not None else None
    if new is not None:
        check_amounts(new)


def _decided_now(change: Change) -> bool:
    new, old = change.new, change.old
    if new is None or new.get("outcome") not in DECIDED:
        return False
    return old is None or old.get("outcome") == "queued"


def _deductible(response: dict[str, Any]) -> Decimal:
    return sum((amount(a["amount"]["value"]) for item in response.get("item") or []
                for a in item.get("adjudication") or []
                if any(c.get("code") == "deductible" for c in (a.get("category") or {}).get("coding") or [])
                and (a.get("amount") or {}).get("value") is not None), Decimal(0))


async def _settle(conn: AsyncConnection[Any], response: dict[str, Any]) -> None:
    request = reference_id(response.get("request"), "Claim")
    claim = await live_content(conn, "Claim", request[1]) if request else None
    if claim is None or claim.get("use", "claim") != "claim":
        return  # preauthorizations and predeterminations pay nothing and have no EOB
    focal = next((i for i in response.get("insurance") or [] if i.get("focal")), None)
    coverage = reference_id((focal or {}).get("coverage"), "Coverage")
    date = service_date(claim)
    used = _deductible(response)
    if coverage is not None and date is not None and used > 0:
        await record_deductible(conn, coverage[1], int(date[:4]), used)
    await repository.create(conn, indexer, explanation_of_benefit(claim, response))


async def guard_claim_response(conn: AsyncConnection[Any], change: Change) -> None:
    old, new = change.old, change.new
    if old is not None and new is not None and old.get("outcome") in DECIDED:
        changed = [name for name in ADJUDICATED if old.get(name) != new.get(name)]
        if changed:
            raise Conflict(f"ClaimResponse/{change.id} is {old['outcome']}: its adjudication ({', '.join(changed)})"
                           " cannot change; a decided claim is corrected by a new Claim")
    if _decided_now(change):
        assert new is not None
        await _settle(conn, dict(new))


register_search_parameters()
register("Claim", guard_claim, order=50, name="claims.claim")
register("ClaimResponse", guard_claim_response, order=50, name="claims.claim-response")
