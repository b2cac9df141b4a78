"""What a prescription authorizes and what a dispense takes from it (pure).

http://hl7.org/fhir/R4/medicationrequest-definitions.html#MedicationRequest.dispenseRequest:
``numberOfRepeatsAllowed`` fills in addition to the original dispense, each of up to
``dispenseRequest.quantity``, so the total authorized is quantity x (1 + repeats) and the fills
authorized 1 + repeats (absent: no repeats). Without ``dispenseRequest.quantity`` only fills count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .refusals import refused

__all__ = ["Authorized", "authorized", "quantity_of", "same_unit"]


@dataclass(frozen=True)
class Authorized:
    quantity: Decimal | None  # the total over every fill; None: not limited by quantity
    fills: int
    unit: Mapping[str, Any] | None  # dispenseRequest.quantity without its value


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def authorized(request: Mapping[str, Any]) -> Authorized:
    dispense = request.get("dispenseRequest") or {}
    repeats = dispense.get("numberOfRepeatsAllowed")
    fills = 1 + (repeats if isinstance(repeats, int) and not isinstance(repeats, bool) else 0)
    per_fill = dispense.get("quantity") if isinstance(dispense.get("quantity"), Mapping) else None
    value = _decimal(per_fill.get("value")) if per_fill else None
    total = value * fills if value is not None else None
    return Authorized(total, fills, per_fill)


def quantity_of(resource: Mapping[str, Any], what: str) -> Decimal | None:
    quantity = resource.get("quantity")
    if not isinstance(quantity, Mapping):
        return None
    value = _decimal(quantity.get("value"))
    if value is None or value < 0:
        raise refused("quantity", f"{what}.quantity needs a value of zero or more")
    return value


def same_unit(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    """Quantities in one unit: the same coded unit when both are coded, else the same unit text (if given)."""
    if not a or not b:
        return True
    if a.get("code") and b.get("code"):
        return bool((a.get("system"), a.get("code")) == (b.get("system"), b.get("code")))
    return not (a.get("unit") and b.get("unit")) or a.get("unit") == b.get("unit")
