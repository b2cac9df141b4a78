"""Money as R4 ``Money`` (value + ISO 4217 currency), computed in Decimal, never float.

http://hl7.org/fhir/R4/datatypes.html#Money. One invoice is in one currency: adding amounts of
different currencies is refused (422), never converted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from ..errors import Unprocessable

__all__ = ["Amount", "amount_of", "money", "total", "one_currency", "CENT"]

CENT = Decimal("0.01")
Amount = tuple[Decimal, str]


def amount_of(value: Any, where: str) -> Amount:
    """(value, currency) of a Money; 422 when either is missing or the value is not a number."""
    if not isinstance(value, Mapping) or not isinstance(value.get("currency"), str):
        raise Unprocessable(f"{where} needs a Money with a value and a currency")
    try:
        number = Decimal(str(value.get("value")))
    except InvalidOperation:
        raise Unprocessable(f"{where} has no numeric value") from None
    if not number.is_finite():
        raise Unprocessable(f"{where} has no numeric value")
    return number, value["currency"]


def money(value: Decimal, currency: str) -> dict[str, Any]:
    # Rounded to cents, half up (what a cashier does); JSON number, not string.
    return {"value": float(value.quantize(CENT, rounding=ROUND_HALF_UP)), "currency": currency}


def one_currency(currencies: Iterable[str], what: str) -> str | None:
    found = sorted(set(currencies))
    if len(found) > 1:
        raise Unprocessable(f"{what} mixes currencies ({', '.join(found)}): one Invoice is in one currency")
    return found[0] if found else None


def total(amounts: Iterable[Amount], what: str) -> Amount | None:
    items = list(amounts)
    currency = one_currency((c for _, c in items), what)
    if currency is None:
        return None
    return sum((v for v, _ in items), Decimal(0)), currency
