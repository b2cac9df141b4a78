"""What a prescription authorizes, units, and the dispense status moves (pure parts of the rules)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fhir_server.pharmacy.dispense_status import check_mdd1, check_transition, counts
from fhir_server.pharmacy.refusals import RuleRefused
from fhir_server.pharmacy.supply import authorized, same_unit


def test_quantity_times_one_plus_repeats() -> None:
    allowed = authorized({"dispenseRequest": {"quantity": {"value": 30, "unit": "tablet"},
                                              "numberOfRepeatsAllowed": 2}})
    assert (allowed.quantity, allowed.fills) == (Decimal(90), 3)
    assert (authorized({}).quantity, authorized({}).fills) == (None, 1)
    assert authorized({"dispenseRequest": {"quantity": {"value": 2.5}}}).quantity == Decimal("2.5")


def test_units() -> None:
    tab = {"system": "urn:u", "code": "TAB", "unit": "tablet"}
    assert same_unit(tab, {"system": "urn:u", "code": "TAB", "unit": "tablets"})
    assert not same_unit(tab, {"system": "urn:u", "code": "CAP"})
    assert not same_unit({"unit": "mL"}, {"unit": "tablet"})
    assert same_unit(None, tab) and same_unit({"value": 1}, tab)


def test_status_moves() -> None:
    for old, new in (("preparation", "completed"), ("in-progress", "on-hold"), ("on-hold", "in-progress"),
                     ("completed", "entered-in-error"), ("unknown", "preparation"), (None, "completed")):
        check_transition(old, new)
    for old, new in (("completed", "in-progress"), ("stopped", "completed"), ("entered-in-error", "completed"),
                     ("in-progress", "preparation"), ("cancelled", "preparation")):
        with pytest.raises(RuleRefused, match=f"cannot go from {old} to {new}"):
            check_transition(old, new)
    assert [counts({"status": s}) for s in ("completed", "stopped", "cancelled", "declined", "entered-in-error")] == [
        True, True, False, False, False]


def test_mdd1() -> None:
    check_mdd1({"whenPrepared": "2031-01-02T10:00:00Z", "whenHandedOver": "2031-01-02T10:00:00Z"})
    check_mdd1({"whenPrepared": "2031-01-02", "whenHandedOver": "2031-01-02T08:00:00Z"})  # same day: not before
    with pytest.raises(RuleRefused, match="mdd-1"):
        check_mdd1({"whenPrepared": "2031-01-02T10:00:00Z", "whenHandedOver": "2031-01-02T09:59:59Z"})
