"""Billing demo data (``make serve``): a small price list, an Account for the demo patient, two
billed ChargeItems and the unpaid, issued Invoice made of them (ids ``bill-...``), so
``GET /fhir/Invoice?subject=Patient/demo-patient&status=issued`` shows a pending bill at once.
Fixed ids, written only when missing (a deleted or edited one is left alone).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..resources.service import ResourceService
from .money import money
from .patient_share import INSURANCE_PAID, PATIENT_SHARE
from .prices import definition

__all__ = ["BILLING_DEMO", "load_billing_demo", "DEMO_PRICES"]

CPT = "http://www.ama-assn.org/go/cpt"
PATIENT = {"reference": "Patient/demo-patient"}
# (code, display, unit price in EUR, quantity billed to the demo patient)
DEMO_PRICES = [("99213", "Office visit, established patient", "95.00", 1),
               ("71046", "Chest X-ray, 2 views", "62.50", 1),
               ("85025", "Complete blood count", "18.75", 2)]


def _prices() -> list[dict[str, Any]]:
    out = []
    for line, (code, display, amount, _) in enumerate(DEMO_PRICES, start=1):
        made = definition({"system": CPT, "code": code, "display": display, "amount": amount, "currency": "EUR"},
                          line)
        out.append({**made, "id": f"bill-price-{code}"})
    return out


def _charges() -> list[dict[str, Any]]:
    return [{"resourceType": "ChargeItem", "id": f"bill-charge-{code}", "status": "billed", "subject": PATIENT,
             "code": {"coding": [{"system": CPT, "code": code, "display": display}]}, "quantity": {"value": qty},
             "definitionCanonical": [f"http://fhir-server.example.org/ChargeItemDefinition/bill-price-{code}"],
             "account": [{"reference": "Account/bill-account"}]} for code, display, _, qty in DEMO_PRICES]


def _invoice() -> dict[str, Any]:
    lines = [{"sequence": i, "chargeItemReference": {"reference": f"ChargeItem/bill-charge-{code}"},
              "priceComponent": [{"type": "base", "factor": float(qty), "amount": money(Decimal(amount) * qty, "EUR")}]}
             for i, (code, _, amount, qty) in enumerate(DEMO_PRICES, start=1)]
    gross = sum((Decimal(amount) * qty for _, _, amount, qty in DEMO_PRICES), Decimal(0))  # 195.00 EUR
    return {"resourceType": "Invoice", "id": "bill-invoice", "status": "issued", "subject": PATIENT,
            "account": {"reference": "Account/bill-account"}, "date": "2026-01-15T10:00:00Z", "lineItem": lines,
            "totalNet": money(gross, "EUR"), "totalGross": money(gross, "EUR"),
            "extension": [{"url": INSURANCE_PAID, "valueMoney": money(Decimal(0), "EUR")},
                          {"url": PATIENT_SHARE, "valueMoney": money(gross, "EUR")}]}


def _demo() -> list[dict[str, Any]]:
    account = {"resourceType": "Account", "id": "bill-account", "status": "active", "name": "Demo patient account",
               "subject": [PATIENT], "owner": {"reference": "Organization/demo-hospital"}}
    for price in (prices := _prices()):
        price["url"] = f"http://fhir-server.example.org/ChargeItemDefinition/{price['id']}"
    return [*prices, account, *_charges(), _invoice()]


BILLING_DEMO: list[dict[str, Any]] = _demo()


async def load_billing_demo(service: ResourceService) -> int:
    return await service.write_missing(BILLING_DEMO)
