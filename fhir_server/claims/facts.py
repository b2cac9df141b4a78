"""What the engine needs from the database, read in the submission's own transaction: the focal
Coverage, the price list (stored ChargeItemDefinitions, http://hl7.org/fhir/R4/chargeitemdefinition.html:
an ``active`` definition whose ``code`` matches the item's productOrService, its
``propertyGroup.priceComponent`` of type ``base``) and the deductible still open for the
Coverage's plan year, row-locked (``claims_deductible`` FOR UPDATE) until the transaction ends.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from psycopg import AsyncConnection

from ..resources import repository
from .adjudicate import Facts, cost_share
from .model import amount, coding_keys, coverage_ids, service_date

__all__ = ["read_facts", "live_content", "base_price", "record_deductible", "deductible_met"]


async def live_content(conn: AsyncConnection[Any], rtype: str, rid: str) -> dict[str, Any] | None:
    if not await repository.is_live(conn, rtype, rid):
        return None
    value: dict[str, Any] = orjson.loads((await repository.read(conn, rtype, rid)).body or b"{}")
    return value


def _base_component(definition: dict[str, Any], currency: str) -> Decimal | None:
    """The base price in the claim's currency (a price in another currency is not this claim's
    price: no conversion is guessed)."""
    for group in definition.get("propertyGroup") or []:
        for component in group.get("priceComponent") or []:
            money = component.get("amount") or {}
            if component.get("type") == "base" and money.get("value") is not None \
                    and money.get("currency", currency) == currency:
                return amount(money["value"])
    return None


# R4 has no ``code`` search parameter on ChargeItemDefinition (the billing package may add one):
# the live definitions are matched on their stored content, newest first.
_PRICED = ("SELECT content FROM resource WHERE resource_type = 'ChargeItemDefinition' AND version_id > 0"
           " AND NOT deleted AND content->>'status' = 'active' AND content->'code'->'coding' @> %s::jsonb"
           " ORDER BY last_updated DESC LIMIT 5")


async def base_price(conn: AsyncConnection[Any], concept: Any, currency: str) -> Decimal | None:
    """The base price, in ``currency``, of the first coding that an active ChargeItemDefinition prices."""
    for key in coding_keys(concept):
        system, _, code = key.rpartition("|")
        cur = await conn.execute(_PRICED, (orjson.dumps([{"system": system, "code": code}]).decode(),))
        for (definition,) in await cur.fetchall():
            price = _base_component(definition, currency)
            if price is not None:
                return price
    return None


async def deductible_met(conn: AsyncConnection[Any], coverage_id: str, year: int) -> Decimal:
    await conn.execute("INSERT INTO claims_deductible (coverage_id, plan_year) VALUES (%s, %s)"
                       " ON CONFLICT DO NOTHING", (coverage_id, year))
    cur = await conn.execute("SELECT met FROM claims_deductible WHERE coverage_id = %s AND plan_year = %s"
                             " FOR UPDATE", (coverage_id, year))
    row = await cur.fetchone()
    return Decimal(row[0]) if row else Decimal(0)


async def record_deductible(conn: AsyncConnection[Any], coverage_id: str, year: int, used: Decimal) -> None:
    await conn.execute("INSERT INTO claims_deductible (coverage_id, plan_year, met) VALUES (%s, %s, %s)"
                       " ON CONFLICT (coverage_id, plan_year) DO UPDATE SET met = claims_deductible.met + EXCLUDED.met",
                       (coverage_id, year, used))


_PREAUTHORIZED = ("SELECT 1 FROM resource WHERE resource_type = 'ClaimResponse' AND version_id > 0 AND NOT deleted"
                  " AND content->>'use' = 'preauthorization' AND content->>'outcome' IN ('complete', 'partial')"
                  " AND content->>'preAuthRef' = ANY(%s) AND content->'patient'->>'reference' = %s LIMIT 1")


async def _preauthorized(conn: AsyncConnection[Any], claim: dict[str, Any]) -> bool:
    """Does a ``preAuthRef`` of the Claim name a granted preauthorization of this patient?"""
    refs = [r for i in claim.get("insurance") or [] for r in i.get("preAuthRef") or [] if isinstance(r, str)]
    if not refs:
        return False
    cur = await conn.execute(_PREAUTHORIZED, (refs, (claim.get("patient") or {}).get("reference")))
    return await cur.fetchone() is not None


async def read_facts(conn: AsyncConnection[Any], claim: dict[str, Any], currency: str) -> Facts:
    ids = coverage_ids(claim)
    coverage = await live_content(conn, "Coverage", ids[0]) if ids else None
    prices = {}
    for item in claim.get("item") or []:
        price = await base_price(conn, item.get("productOrService"), currency)
        if price is not None:
            prices[item["sequence"]] = price
    remaining = Decimal(0)
    date = service_date(claim)
    if coverage is not None and date is not None:
        met = await deductible_met(conn, coverage["id"], int(date[:4]))
        remaining = max(Decimal(0), cost_share(coverage, "deductible") - met)
    return Facts(claim, coverage, prices, remaining, await _preauthorized(conn, claim))
