"""The rows an insurer's Backend Services token may touch: a ``system/`` token of a client bound
to an insurer Organization (table ``smart_client_organization``, ``fhir-server claims bind-insurer``)
sees the claim types only where ``insurer`` is that Organization: the ``insurer`` search parameter
as a predicate on ``resource r`` (the search index, like a granular scope filter), so searches,
totals, includes and writes are narrowed inside the query. Other types are not narrowed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ..search.criteria import Context
from ..search.parse import parse_request
from ..search.query import build_scope
from ..search.sqlfrag import Q, fmt

__all__ = ["INSURER_TYPES", "insurer_rows"]

# The types whose ``insurer`` search parameter names the insurer (R4, and the claims package's EOB one).
INSURER_TYPES = frozenset({"Claim", "ClaimResponse", "ExplanationOfBenefit", "CoverageEligibilityRequest",
                           "CoverageEligibilityResponse"})


def insurer_rows(organization: str, rtype: str, base: str) -> Q | None:
    if rtype not in INSURER_TYPES:
        return None
    ctx = Context(base=base or None, now=datetime.now(UTC))
    scope = build_scope([rtype], parse_request([("insurer", f"Organization/{organization}")]).params, ctx,
                        strict=True)
    return fmt("({})", scope.where)
