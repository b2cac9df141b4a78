"""ChargeItemDefinition/[id]/$apply: price a charge with one definition (R4 ChargeItemDefinition-apply).

In (Parameters): ``chargeItem`` (valueReference to a stored ChargeItem the caller may read) or a
``chargeItem`` resource (an unsaved ChargeItem). Out: the ChargeItem (not stored: $apply changes
nothing) with ``definitionCanonical`` = the definition's url and ``priceOverride`` = base unit
price x quantity. http://hl7.org/fhir/R4/chargeitemdefinition-operation-apply.html
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from ..errors import BadRequest, Unprocessable
from ..resources import repository
from ..scheduling.writes import content
from ..smart_auth.policy import Policy
from .money import money
from .pricing import quantity_of, unit_price

__all__ = ["apply", "CAPABILITY_ENTRY", "charge_item_in"]

CAPABILITY_ENTRY = {"name": "apply", "definition": "http://hl7.org/fhir/OperationDefinition/ChargeItemDefinition-apply"}


async def charge_item_in(conn: AsyncConnection[Any], body: Any, policy: Policy) -> dict[str, Any]:
    """The ChargeItem named by the Parameters (a reference the caller may read, or the resource)."""
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise BadRequest("$apply needs a Parameters body with the parameter chargeItem")
    found = [p for p in body.get("parameter") or [] if isinstance(p, dict) and p.get("name") == "chargeItem"]
    if len(found) != 1:
        raise BadRequest("$apply needs exactly one parameter chargeItem (valueReference or resource)")
    param = found[0]
    if isinstance(param.get("resource"), dict):
        if param["resource"].get("resourceType") != "ChargeItem":
            raise BadRequest("$apply chargeItem resource must be a ChargeItem")
        return dict(param["resource"])
    reference = str((param.get("valueReference") or {}).get("reference") or "")
    kind, _, rid = reference.partition("/")
    if kind != "ChargeItem" or not rid:
        raise BadRequest("$apply chargeItem valueReference must be ChargeItem/[id]")
    await policy.check_visible(conn, "ChargeItem", rid, "r")
    return content(await repository.read(conn, "ChargeItem", rid))


def apply(definition: dict[str, Any], charge: dict[str, Any]) -> dict[str, Any]:
    if definition.get("status") != "active":
        raise Unprocessable(f"ChargeItemDefinition/{definition.get('id')} is {definition.get('status')}, not active")
    value, currency = unit_price(definition)
    priced = {**charge, "priceOverride": money(value * quantity_of(charge), currency)}
    if definition.get("url"):
        priced["definitionCanonical"] = [definition["url"]]
    return priced
