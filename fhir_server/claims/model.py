"""What a Claim must carry before anything is stored, and the small readers the claims package
shares (references, identifiers, money). Pure functions: no database.

http://hl7.org/fhir/R4/claim.html (patient, insurer, insurance.coverage, item; Money.currency:
http://hl7.org/fhir/R4/datatypes.html#Money). The issue's bad input: a Claim without a patient,
an insurer, a Coverage or items, amounts in mixed currencies, negative quantities.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ..errors import Unprocessable

__all__ = ["InvalidClaim", "check_claim", "check_amounts", "reference_id", "identifier_keys", "money", "amount",
           "cents", "item_amount", "coverage_ids", "service_date", "coding_keys", "claim_currency"]

CENT = Decimal("0.01")


class InvalidClaim(Unprocessable):
    """A business rule of a Claim (422 ``business-rule``)."""

    code = "business-rule"


def reference_id(ref: Any, rtype: str | None = None) -> tuple[str, str] | None:
    """``{"reference": "Patient/1"}`` -> ("Patient", "1"); None for anything else (or another type)."""
    value = ref.get("reference") if isinstance(ref, dict) else None
    if not isinstance(value, str) or "?" in value or value.startswith("urn:"):
        return None
    parts = value.rstrip("/").split("/")
    if len(parts) < 2 or (rtype is not None and parts[-2] != rtype):
        return None
    return parts[-2], parts[-1]


def identifier_keys(resource: dict[str, Any]) -> list[str]:
    """Each ``system|value`` business identifier (the idempotency key of a submission)."""
    keys = {f"{i.get('system') or ''}|{i['value']}" for i in resource.get("identifier") or []
            if isinstance(i, dict) and isinstance(i.get("value"), str)}
    return sorted(keys)


def amount(value: Any) -> Decimal:
    return Decimal(str(value))


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Decimal, currency: str) -> dict[str, Any]:
    return {"value": cents(value), "currency": currency}


def coverage_ids(claim: dict[str, Any]) -> list[str]:
    """The Coverage ids of the Claim's insurance, focal first (insurance.sequence order)."""
    insurance = sorted(claim.get("insurance") or [], key=lambda i: (not i.get("focal"), i.get("sequence") or 0))
    return [r[1] for i in insurance if (r := reference_id(i.get("coverage"), "Coverage"))]


def _amounts(claim: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every Money of the Claim, with where it sits."""
    if isinstance(claim.get("total"), dict):
        yield "Claim.total", claim["total"]
    for i, item in enumerate(claim.get("item") or []):
        for name in ("unitPrice", "net"):
            if isinstance(item.get(name), dict):
                yield f"Claim.item[{i}].{name}", item[name]
        for j, detail in enumerate(item.get("detail") or []):
            for name in ("unitPrice", "net"):
                if isinstance(detail.get(name), dict):
                    yield f"Claim.item[{i}].detail[{j}].{name}", detail[name]


def _quantities(claim: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for i, item in enumerate(claim.get("item") or []):
        yield f"Claim.item[{i}].quantity", (item.get("quantity") or {}).get("value")
        for j, detail in enumerate(item.get("detail") or []):
            yield f"Claim.item[{i}].detail[{j}].quantity", (detail.get("quantity") or {}).get("value")


def claim_currency(claim: dict[str, Any]) -> str | None:
    currencies = {m.get("currency") for _, m in _amounts(claim) if m.get("currency")}
    return next(iter(currencies)) if len(currencies) == 1 else None


def check_claim(claim: dict[str, Any]) -> None:
    """Refuse (422) a Claim that cannot be adjudicated: the first problem found, by its path."""
    if reference_id(claim.get("patient")) is None and not (claim.get("patient") or {}).get("reference"):
        raise InvalidClaim("Claim.patient is missing: a claim is for one patient")
    if not (claim.get("insurer") or {}).get("reference") and not (claim.get("insurer") or {}).get("identifier"):
        raise InvalidClaim("Claim.insurer is missing: a claim is addressed to one insurer")
    insurance = claim.get("insurance") or []
    if not insurance or not all((i.get("coverage") or {}).get("reference") for i in insurance):
        raise InvalidClaim("Claim.insurance is missing or names no Coverage: each insurance needs a coverage")
    if not claim.get("item"):
        raise InvalidClaim("Claim.item is missing: a claim has at least one item")
    sequences = [item.get("sequence") for item in claim["item"]]
    if not all(type(s) is int and s > 0 for s in sequences) or len(set(sequences)) != len(sequences):
        raise InvalidClaim("Claim.item.sequence must be a distinct positive integer on every item")
    check_amounts(claim)


def check_amounts(claim: dict[str, Any]) -> None:
    """Refuse (422) amounts in mixed currencies and negative quantities or prices: on every write of
    a Claim (the write rule), not only $submit; a stored Claim may lack what adjudication needs
    (Synthea's have no insurer), but its amounts must add up."""
    currencies = sorted({m.get("currency") or "(none)" for _, m in _amounts(claim)})
    if len(currencies) > 1:
        raise InvalidClaim(f"Claim amounts are in mixed currencies ({', '.join(currencies)}): one currency per claim")
    for path, value in _quantities(claim):
        if value is not None and amount(value) < 0:
            raise InvalidClaim(f"{path} is negative ({value}): quantities are zero or more")
    for path, value in _amounts(claim):
        if value.get("value") is not None and amount(value["value"]) < 0 and ".net" not in path:
            raise InvalidClaim(f"{path} is negative ({value['value']}): prices are zero or more")


def item_amount(item: dict[str, Any]) -> Decimal:
    """What an item claims: its ``net``, else ``quantity x unitPrice x factor`` (claim.html#Claim.item.net)."""
    if isinstance(item.get("net"), dict) and item["net"].get("value") is not None:
        return amount(item["net"]["value"])
    quantity = amount((item.get("quantity") or {}).get("value", 1))
    price = amount((item.get("unitPrice") or {}).get("value", 0))
    return quantity * price * amount(item.get("factor", 1))


def service_date(claim: dict[str, Any], item: dict[str, Any] | None = None) -> str | None:
    """The date of service (YYYY-MM-DD): the item's servicedDate/Period, else the billable period's
    start, else the Claim's creation date."""
    for source in (item or {}, claim):
        for value in (source.get("servicedDate"), (source.get("servicedPeriod") or {}).get("start"),
                      (source.get("billablePeriod") or {}).get("start")):
            if isinstance(value, str) and len(value) >= 10:
                return value[:10]
    created = claim.get("created")
    return created[:10] if isinstance(created, str) and len(created) >= 10 else None


def coding_keys(concept: Any) -> list[str]:
    """``system|code`` of each coding of a CodeableConcept."""
    return [f"{c.get('system') or ''}|{c.get('code')}" for c in (concept or {}).get("coding") or []
            if isinstance(c, dict) and c.get("code")]
