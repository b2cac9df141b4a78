"""Registers the pharmacy write rules (docs/rules.md); listed in rules/loading.KNOWN_RULE_MODULES so
every process that writes (serve, each load worker) has them. Only pharmacy types: never
Observation or "*", which would push the core create fast path onto the general path."""

from __future__ import annotations

from ..rules import register
from .administration import guard_administration
from .dispense import guard_dispense
from .formulary import guard_medication
from .prescription import guard_request
from .receipt import guard_delivery

__all__: list[str] = []

register("MedicationRequest", guard_request, order=50, name="pharmacy.prescription")
register("MedicationDispense", guard_dispense, order=50, name="pharmacy.dispense",
         conflicts={"pharmacy_stock_not_negative": "Not enough stock for this dispense (pharmacy rule stock)"})
register("Medication", guard_medication, order=50, name="pharmacy.formulary")
register("SupplyDelivery", guard_delivery, order=50, name="pharmacy.receipt")
register("MedicationAdministration", guard_administration, order=50, name="pharmacy.administration")
