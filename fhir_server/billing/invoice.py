"""Account/[id]/$invoice: an Invoice from the Account's billable ChargeItems, priced by the server.

In (Parameters, all optional): ``claimResponse`` (valueReference, 0..*) naming completed
ClaimResponses that cover these charges; ``issue`` (valueBoolean, default false: the Invoice is
``draft``; true: ``issued``). In one transaction: every ChargeItem with ``account`` = the Account
and ``status`` = billable is priced (``pricing.charge_price``), becomes one lineItem
(priceComponent ``base``, factor = quantity, amount = line total) and is set to ``billed`` (so it
is never invoiced twice); ``totalNet`` = ``totalGross`` = the sum of the lines (no tax is
configured). Mixed currencies: 422, nothing written.

Patient responsibility (``patient_share.py``): gross minus the ``benefit`` adjudication amounts of
the given ClaimResponses, never below 0, stored as the Invoice extensions
``.../invoice-insurance-paid`` and ``.../invoice-patient-responsibility`` (valueMoney).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from ..errors import Unprocessable
from ..fhir.datetimes import format_instant
from ..resources import repository
from ..scheduling.writes import Writes, content
from .money import Amount, money, one_currency
from .patient_share import INSURANCE_PAID, PATIENT_SHARE, insurance_paid
from .pricing import charge_price

__all__ = ["invoice_account", "CAPABILITY_ENTRY"]

CAPABILITY_ENTRY = {"name": "invoice", "definition": "http://fhir-server.example.org/OperationDefinition/Account-invoice"}

_BILLABLE = ("SELECT id FROM resource WHERE resource_type = 'ChargeItem' AND version_id > 0 AND NOT deleted"
             " AND content->>'status' = 'billable' AND content->'account' @> %s::jsonb ORDER BY id FOR UPDATE")


async def _billable(writes: Writes, account_id: str) -> list[dict[str, Any]]:
    # FOR UPDATE: two concurrent $invoice calls of one Account cannot both bill the same charge.
    probe = orjson.dumps([{"reference": f"Account/{account_id}"}]).decode()
    rows = await (await writes.conn.execute(_BILLABLE, (probe,))).fetchall()
    return [content(await repository.read(writes.conn, "ChargeItem", row[0])) for row in rows]


async def _lines(writes: Writes, charges: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Amount]]:
    lines, amounts = [], []
    for sequence, charge in enumerate(charges, start=1):
        line, quantity, _unit = await charge_price(writes.conn, charge)
        amounts.append(line)
        lines.append({"sequence": sequence, "chargeItemReference": {"reference": f"ChargeItem/{charge['id']}"},
                      "priceComponent": [{"type": "base", "factor": float(quantity), "amount": money(*line)}]})
    return lines, amounts


async def invoice_account(writes: Writes, account_id: str, claim_responses: list[str], issue: bool) -> dict[str, Any]:
    await writes.policy.check_visible(writes.conn, "Account", account_id, "r")
    account = content(await repository.read(writes.conn, "Account", account_id))
    if account.get("status") != "active":
        raise Unprocessable(f"Account/{account_id} is {account.get('status')}: only an active Account is invoiced")
    charges = await _billable(writes, account_id)
    if not charges:
        raise Unprocessable(f"Account/{account_id} has no billable ChargeItems")
    lines, amounts = await _lines(writes, charges)
    currency = one_currency((c for _, c in amounts), f"Account/{account_id}'s charges")
    assert currency is not None  # at least one charge
    gross = sum((v for v, _ in amounts), Decimal(0))
    paid = await insurance_paid(writes, claim_responses, currency)
    invoice: dict[str, Any] = {
        "resourceType": "Invoice", "status": "issued" if issue else "draft",
        "date": format_instant(datetime.now(UTC)), "account": {"reference": f"Account/{account_id}"},
        "lineItem": lines, "totalNet": money(gross, currency), "totalGross": money(gross, currency),
        "extension": [{"url": INSURANCE_PAID, "valueMoney": money(paid, currency)},
                      {"url": PATIENT_SHARE, "valueMoney": money(max(gross - paid, Decimal(0)), currency)}]}
    if account.get("subject"):
        invoice["subject"] = account["subject"][0]
    stored = await writes.create("Invoice", invoice)
    for charge in charges:
        await writes.update("ChargeItem", charge["id"], {**_without_meta(charge), "status": "billed"})
    return stored


def _without_meta(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != "meta"}
