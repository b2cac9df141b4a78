"""The billing write rules: the Invoice status workflow and frozen amounts, sane ChargeItems.

Invoice (http://hl7.org/fhir/R4/invoice.html#status), on every write path (POST, PUT, PATCH,
bundle entries, ``fhir-server load``, $invoice):
- patients never write Invoices (403): amounts are set by the server and billing staff;
- a new Invoice is ``draft`` or ``issued``; transitions: draft -> issued, issued -> balanced,
  draft|issued -> cancelled (needs ``cancelledReason``), balanced -> issued (a refund re-opens it);
  cancelled is final, a balanced Invoice changes only back to issued;
- a draft may change freely; an issued Invoice changes only by those transitions (status and
  cancelledReason): any other change (amounts, lines, participants, ...) is 422;
- only a draft may be deleted; all Money of one Invoice is in one currency.
ChargeItem: ``quantity`` not negative, ``priceOverride`` a Money; patients never write them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from psycopg import AsyncConnection

from ..errors import Forbidden, Unprocessable
from ..rules import Change, register
from ..rules.context import writer
from .access import is_patient
from .money import amount_of, one_currency
from .pricing import quantity_of

__all__ = ["invoice_rule", "charge_item_rule", "TRANSITIONS"]

# balanced -> issued: a refund re-opens the Invoice (billing staff only: patients never write Invoices).
TRANSITIONS = frozenset({("draft", "issued"), ("issued", "balanced"), ("draft", "cancelled"),
                         ("issued", "cancelled"), ("balanced", "issued")})
NEW_STATUSES = frozenset({"draft", "issued"})
FINAL = frozenset({"cancelled", "entered-in-error"})
# What a transition may change besides nothing: the rest of an issued Invoice is frozen.
TRANSITION_FIELDS = frozenset({"meta", "status", "cancelledReason", "text"})


def _moneys(invoice: Mapping[str, Any]) -> Iterator[Any]:
    for key in ("totalNet", "totalGross"):
        if invoice.get(key) is not None:
            yield invoice[key]
    components = [*(invoice.get("totalPriceComponent") or [])]
    for line in invoice.get("lineItem") or []:
        components.extend(line.get("priceComponent") or [])
    yield from (c["amount"] for c in components if isinstance(c, Mapping) and c.get("amount") is not None)
    for extension in invoice.get("extension") or []:
        if isinstance(extension, Mapping) and extension.get("valueMoney") is not None:
            yield extension["valueMoney"]


def _frozen(invoice: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in invoice.items() if k not in TRANSITION_FIELDS}


def _check_transition(rid: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    before, after = old.get("status"), new.get("status")
    if before in FINAL and (before != after or _frozen(old) != _frozen(new)):
        raise Unprocessable(f"Invoice/{rid} is {before}: it can no longer change")
    if before != after and (before, after) not in TRANSITIONS:
        raise Unprocessable(f"Invoice/{rid}: {before} -> {after} is not allowed (draft -> issued -> balanced; "
                            "draft or issued -> cancelled; balanced -> issued)")
    if before != "draft" and _frozen(old) != _frozen(new):
        raise Unprocessable(f"Invoice/{rid} is {before}: its amounts and lines are immutable (only a status "
                            "transition may change it)")


async def invoice_rule(conn: AsyncConnection[Any], change: Change) -> None:
    if is_patient(writer()):
        raise Forbidden("Patients cannot write Invoices: amounts are set by the server and billing staff")
    old, new = change.old, change.new
    if new is None:
        if old is not None and old.get("status") != "draft":
            raise Unprocessable(f"Invoice/{change.id} is {old.get('status')}: only a draft Invoice may be deleted")
        return
    one_currency((amount_of(m, f"Invoice/{change.id} amount")[1] for m in _moneys(new)), f"Invoice/{change.id}")
    if new.get("status") == "cancelled" and not new.get("cancelledReason"):
        raise Unprocessable(f"Invoice/{change.id}: a cancelled Invoice needs a cancelledReason")
    if old is None:
        if new.get("status") not in NEW_STATUSES:
            raise Unprocessable(f"Invoice/{change.id}: a new Invoice is draft or issued, not {new.get('status')}")
        return
    _check_transition(change.id, old, new)


async def charge_item_rule(conn: AsyncConnection[Any], change: Change) -> None:
    if is_patient(writer()):
        raise Forbidden("Patients cannot write ChargeItems: charges are recorded by the hospital")
    if change.new is None:
        return
    quantity_of(change.new)  # 422 on a negative or non-numeric quantity
    if change.new.get("priceOverride") is not None:
        amount_of(change.new["priceOverride"], f"ChargeItem/{change.id}.priceOverride")


register("Invoice", invoice_rule, order=100, name="billing.invoice_status")
register("ChargeItem", charge_item_rule, order=100, name="billing.charge_item")
