"""Pricing one charge from the price list (ChargeItemDefinition.propertyGroup.priceComponent).

The unit price is the definition's ``base`` price component; a ChargeItem's price is unit x
``quantity.value`` (default 1). A ChargeItem that carries ``priceOverride`` (what $apply set, or a
manual price by billing staff) is billed at that total. R4 ChargeItemDefinition applicability
conditions are not evaluated (a definition applies when it is active and its code matches).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson
from psycopg import AsyncConnection

from ..errors import Unprocessable
from .money import Amount, amount_of

__all__ = ["unit_price", "quantity_of", "definition_for_code", "charge_price"]

_BY_CODE = ("SELECT content FROM resource WHERE resource_type = 'ChargeItemDefinition' AND version_id > 0"
            " AND NOT deleted AND content->>'status' = 'active' AND content->'code'->'coding' @> %s::jsonb"
            " ORDER BY id LIMIT 1")
_BY_URL = ("SELECT content FROM resource WHERE resource_type = 'ChargeItemDefinition' AND version_id > 0"
           " AND NOT deleted AND content->>'url' = %s ORDER BY id LIMIT 1")


def unit_price(definition: Mapping[str, Any]) -> Amount:
    for group in definition.get("propertyGroup") or []:
        for component in group.get("priceComponent") or []:
            if component.get("type") == "base":
                return amount_of(component.get("amount"), f"ChargeItemDefinition/{definition.get('id')} base price")
    raise Unprocessable(f"ChargeItemDefinition/{definition.get('id')} has no base price component")


def quantity_of(charge: Mapping[str, Any]) -> Decimal:
    value = (charge.get("quantity") or {}).get("value", 1)
    try:
        quantity = Decimal(str(value))
    except ArithmeticError:
        raise Unprocessable("ChargeItem.quantity.value is not a number") from None
    if not quantity.is_finite() or quantity < 0:
        raise Unprocessable("ChargeItem.quantity must not be negative")
    return quantity


def _loaded(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    value = row[0]
    return orjson.loads(value) if isinstance(value, (bytes, str)) else dict(value)


async def definition_for_code(conn: AsyncConnection[Any], code: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The active definition whose code has one of ``code``'s codings (system and code)."""
    for coding in (code or {}).get("coding") or []:
        if coding.get("system") and coding.get("code"):
            probe = orjson.dumps([{"system": coding["system"], "code": coding["code"]}]).decode()
            found = _loaded(await (await conn.execute(_BY_CODE, (probe,))).fetchone())
            if found is not None:
                return found
    return None


async def charge_price(conn: AsyncConnection[Any], charge: Mapping[str, Any]) -> tuple[Amount, Decimal, Amount]:
    """(line total, quantity, unit price) of a ChargeItem: its priceOverride, else its definition
    (``definitionCanonical``, else the active definition for its code) x quantity."""
    quantity, where = quantity_of(charge), f"ChargeItem/{charge.get('id')}"
    if charge.get("priceOverride") is not None:
        line = amount_of(charge["priceOverride"], f"{where}.priceOverride")
        return line, quantity, ((line[0] / quantity) if quantity else Decimal(0), line[1])
    definition = None
    for url in charge.get("definitionCanonical") or []:
        definition = _loaded(await (await conn.execute(_BY_URL, (url,))).fetchone())
        if definition is not None:
            break
    definition = definition or await definition_for_code(conn, charge.get("code"))
    if definition is None:
        raise Unprocessable(f"{where} has no price: no active ChargeItemDefinition for its code")
    unit = unit_price(definition)
    return (unit[0] * quantity, unit[1]), quantity, unit
