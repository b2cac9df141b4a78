"""The refusal of a laboratory state rule: 422 with issue code ``business-rule``
(http://hl7.org/fhir/R4/valueset-issue-type.html), its message naming the rule."""

from __future__ import annotations

from ..errors import FhirError

__all__ = ["RuleRefused"]


class RuleRefused(FhirError):
    status, code = 422, "business-rule"
