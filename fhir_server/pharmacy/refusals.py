"""The refusals of the pharmacy rules: each names its rule, so a client (and a log reader) can tell
which rule of the README's pharmacy section said no (OperationOutcome issue code business-rule)."""

from __future__ import annotations

from ..errors import FhirError

__all__ = ["RuleRefused", "StockConflict", "refused", "stock_conflict"]


class RuleRefused(FhirError):
    status, code = 422, "business-rule"


class StockConflict(FhirError):
    status, code = 409, "conflict"


def refused(rule: str, message: str) -> RuleRefused:
    return RuleRefused(f"{message} (pharmacy rule {rule})")


def stock_conflict(message: str) -> StockConflict:
    return StockConflict(f"{message} (pharmacy rule stock)")
