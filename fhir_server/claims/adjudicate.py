"""The adjudication rule engine: a Claim, its Coverage and prices -> the ClaimResponse's decision.
Pure (no database): the facts are read by ``submit.py``, the result stored by it.

The plan model (README "Claims"):
1. The focal Coverage must exist, be ``active``, belong to the Claim's patient (``beneficiary``),
   be paid by the Claim's insurer (``payor``) and cover the date of service (``period``); else the
   outcome is ``error`` with the reason in ``ClaimResponse.error`` (and on each item's benefit)
   and nothing is paid.
2. An item whose ``productOrService`` is in the preauthorization list (``FHIR_CLAIMS_PREAUTH_CODES``)
   while no ``Claim.insurance.preAuthRef`` names a granted preauthorization of the patient (a
   ``use=preauthorization`` ClaimResponse, complete or partial, with that ``preAuthRef``) is denied (benefit 0, reason
   ``preauth-required``); some items denied -> ``partial``, all -> ``error``.
3. An item in the review list (``FHIR_CLAIMS_REVIEW_CODES``) needs a human: the whole Claim is
   ``queued`` (pended), each item answered with its ``submitted`` amount only.
4. Per approved item, in ``sequence`` order: ``submitted`` = net (or quantity x unitPrice x factor);
   ``eligible`` = the lesser of submitted and quantity x the ChargeItemDefinition's base price
   (submitted when no definition prices the code); ``copay`` = the Coverage's ``copay``
   (costToBeneficiary, once per claim: per visit) still unpaid; ``deductible`` = the remaining
   yearly ``deductible`` (costToBeneficiary, per Coverage and calendar year) up to what is left;
   ``benefit`` = eligible - copay - deductible. The payment is the sum of the benefits.
Categories: http://terminology.hl7.org/CodeSystem/adjudication.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .model import amount, coding_keys, item_amount, money, reference_id, service_date

__all__ = ["Plan", "Facts", "Decision", "adjudicate", "pended", "coverage_problem", "cost_share", "ERROR_SYSTEM",
           "category"]

ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
ERROR_SYSTEM = "http://fhir-server.example.org/CodeSystem/claim-adjudication-error"
ZERO = Decimal(0)


@dataclass(frozen=True)
class Plan:
    """The engine's configuration (settings): ``system|code`` lists."""

    preauth_codes: frozenset[str] = frozenset()
    review_codes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Facts:
    claim: dict[str, Any]
    coverage: dict[str, Any] | None
    unit_prices: dict[int, Decimal]  # item sequence -> the price list's base price
    deductible_remaining: Decimal
    preauthorized: bool = False  # a preAuthRef names a granted preauthorization of this patient


@dataclass
class Decision:
    outcome: str  # complete | partial | error | queued
    items: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, Decimal] = field(default_factory=dict)
    disposition: str = ""


def category(code: str) -> dict[str, Any]:
    return {"coding": [{"system": ADJUDICATION, "code": code}]}


def _error(code: str, text: str, item: int | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": {"coding": [{"system": ERROR_SYSTEM, "code": code}], "text": text}}
    if item is not None:
        error["itemSequence"] = item
    return error


def cost_share(coverage: dict[str, Any], kind: str) -> Decimal:
    """The Coverage's ``costToBeneficiary`` of type ``kind`` (copay, deductible) as money; 0 if none."""
    for cost in coverage.get("costToBeneficiary") or []:
        if kind in [k.split("|")[-1] for k in coding_keys(cost.get("type"))]:
            value = (cost.get("valueMoney") or {}).get("value")
            return amount(value) if value is not None else ZERO
    return ZERO


def _covers(period: dict[str, Any] | None, date: str) -> bool:
    start, end = (period or {}).get("start"), (period or {}).get("end")
    return (not start or start[:10] <= date) and (not end or date <= end[:10])


def coverage_problem(coverage: dict[str, Any] | None, patient: Any, insurer: Any,
                     date: str | None) -> dict[str, Any] | None:
    """Why the Coverage does not pay for this patient on this date (a ClaimResponse.error), or None."""
    if coverage is None:
        return _error("coverage-not-found", "The Claim's Coverage is not known to this server")
    if coverage.get("status") != "active":
        return _error("coverage-inactive", f"Coverage/{coverage.get('id')} is {coverage.get('status')}, not active")
    if reference_id(coverage.get("beneficiary")) != reference_id(patient):
        return _error("coverage-patient", f"Coverage/{coverage.get('id')} does not belong to the Claim's patient")
    payors = [reference_id(p) for p in coverage.get("payor") or []]
    if reference_id(insurer) not in payors:
        return _error("coverage-insurer", f"Coverage/{coverage.get('id')} is not paid by the Claim's insurer")
    if date is None or not _covers(coverage.get("period"), date):
        return _error("coverage-period", f"Coverage/{coverage.get('id')} is not in force on the date of service"
                      f" ({date or 'none given'})")
    return None


def _needs(plan_codes: frozenset[str], item: dict[str, Any]) -> bool:
    return any(key in plan_codes for key in coding_keys(item.get("productOrService")))


def _line(sequence: int, amounts: list[tuple[str, Decimal]], currency: str,
          reason: dict[str, Any] | None = None) -> dict[str, Any]:
    adjudication = []
    for code, value in amounts:
        entry: dict[str, Any] = {"category": category(code), "amount": money(value, currency)}
        if reason is not None and code == "benefit":
            entry["reason"] = reason
        adjudication.append(entry)
    return {"itemSequence": sequence, "adjudication": adjudication}


def pended(claim: dict[str, Any], currency: str, disposition: str) -> Decision:
    """``queued``: each item answered with what it claims, the decision left to a person or system."""
    items = sorted(claim.get("item") or [], key=lambda i: i.get("sequence", 0))
    lines = [_line(i["sequence"], [("submitted", item_amount(i))], currency) for i in items]
    return Decision("queued", lines, totals={"submitted": sum((item_amount(i) for i in items), ZERO)},
                    disposition=disposition)


def adjudicate(plan: Plan, facts: Facts, currency: str) -> Decision:
    claim, coverage = facts.claim, facts.coverage
    problem = coverage_problem(coverage, claim.get("patient"), claim.get("insurer"), service_date(claim))
    items = sorted(claim.get("item") or [], key=lambda i: i.get("sequence", 0))
    if problem is not None:  # nothing is paid, and every item says so with the reason
        lines = [_line(i["sequence"], [("submitted", item_amount(i)), ("eligible", ZERO), ("benefit", ZERO)],
                       currency, problem["code"]) for i in items]
        return Decision("error", lines, errors=[problem], disposition=problem["code"]["text"],
                        totals={"submitted": sum((item_amount(i) for i in items), ZERO), "benefit": ZERO})
    assert coverage is not None
    if any(_needs(plan.review_codes, i) for i in items):
        return pended(claim, currency, "Pended for review: a service on the claim needs a person's decision")
    copay_left, deductible_left = cost_share(coverage, "copay"), facts.deductible_remaining
    decision = Decision("complete")
    totals = dict.fromkeys(("submitted", "eligible", "copay", "deductible", "benefit"), ZERO)
    for item in items:
        sequence, submitted = item["sequence"], item_amount(item)
        totals["submitted"] += submitted
        if claim.get("use", "claim") == "claim" and _needs(plan.preauth_codes, item) and not facts.preauthorized:
            denial = _error("preauth-required", "This service requires preauthorization and the Claim names none",
                            sequence)
            decision.errors.append(denial)
            decision.items.append(_line(sequence, [("submitted", submitted), ("eligible", ZERO), ("benefit", ZERO)],
                                        currency, denial["code"]))
            continue
        price = facts.unit_prices.get(sequence)
        quantity = amount((item.get("quantity") or {}).get("value", 1))
        eligible = submitted if price is None else min(submitted, quantity * price)
        copay = min(copay_left, eligible)
        deductible = min(deductible_left, eligible - copay)
        copay_left, deductible_left = copay_left - copay, deductible_left - deductible
        benefit = eligible - copay - deductible
        for code, value in (("eligible", eligible), ("copay", copay), ("deductible", deductible),
                            ("benefit", benefit)):
            totals[code] += value
        decision.items.append(_line(sequence, [("submitted", submitted), ("eligible", eligible), ("copay", copay),
                                               ("deductible", deductible), ("benefit", benefit)], currency))
    denied = len(decision.errors)
    decision.outcome = "complete" if not denied else "partial" if denied < len(items) else "error"
    decision.totals = totals
    decision.disposition = {"complete": "Claim settled as submitted", "partial": "Claim partly settled: "
                            f"{denied} item(s) denied", "error": "Claim denied"}[decision.outcome]
    return decision
