"""CoverageEligibilityRequest/$submit: the request is stored and answered by a stored
CoverageEligibilityResponse, in one transaction, by the same rules as a claim
(http://hl7.org/fhir/R4/coverageeligibilityrequest.html, coverageeligibilityresponse.html).

We chose an operation rather than a create that answers with another type: a create returns the
resource created. The Coverage (``insurance``, focal first) is checked as for a claim (active, the
patient's, paid by the insurer, in force on ``servicedDate``/``servicedPeriod.start``/``created``):
``inforce`` and, when it fails, ``outcome=error`` with the reason. Per requested item: whether it
needs a preauthorization (``FHIR_CLAIMS_PREAUTH_CODES``), the copay per visit and the yearly
deductible with what is used of it (http://terminology.hl7.org/CodeSystem/benefit-type).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from psycopg import AsyncConnection

from ..audit.trail import record_versions
from ..errors import BadRequest
from ..fhir.datetimes import format_instant, now_instant
from ..resources import interactions
from ..resources.service import ResourceService
from ..retry import in_transaction
from ..smart_auth.policy import OPEN_POLICY, Policy
from .adjudicate import Plan, cost_share, coverage_problem
from .facts import deductible_met, live_content
from .model import coding_keys, money, reference_id

__all__ = ["submit_eligibility", "CAPABILITY_ENTRY"]

CAPABILITY_ENTRY = {"name": "submit",
                    "definition": "http://fhir-server.example.org/OperationDefinition/CoverageEligibilityRequest-submit"}
BENEFIT_TYPE = "http://terminology.hl7.org/CodeSystem/benefit-type"


def _date(request: dict[str, Any]) -> str | None:
    for value in (request.get("servicedDate"), (request.get("servicedPeriod") or {}).get("start"),
                  request.get("created")):
        if isinstance(value, str) and len(value) >= 10:
            return value[:10]
    return None


def _benefits(coverage: dict[str, Any], met: Decimal, currency: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    copay, deductible = cost_share(coverage, "copay"), cost_share(coverage, "deductible")
    if copay:
        out.append({"type": {"coding": [{"system": BENEFIT_TYPE, "code": "copay"}]},
                    "allowedMoney": money(copay, currency)})
    if deductible:
        out.append({"type": {"coding": [{"system": BENEFIT_TYPE, "code": "deductible"}]},
                    "allowedMoney": money(deductible, currency), "usedMoney": money(min(met, deductible), currency)})
    return out


async def _answer(conn: AsyncConnection[Any], request: dict[str, Any], plan: Plan, currency: str) -> dict[str, Any]:
    focal = sorted(request.get("insurance") or [], key=lambda i: not i.get("focal"))
    ref = reference_id((focal[0] if focal else {}).get("coverage"), "Coverage")
    coverage = await live_content(conn, "Coverage", ref[1]) if ref else None
    date = _date(request)
    problem = coverage_problem(coverage, request.get("patient"), request.get("insurer"), date)
    answer: dict[str, Any] = {
        "resourceType": "CoverageEligibilityResponse", "status": "active", "purpose": request["purpose"],
        "patient": request["patient"], "created": format_instant(now_instant()),
        "request": {"reference": f"CoverageEligibilityRequest/{request['id']}"},
        "outcome": "error" if problem else "complete", "insurer": request["insurer"]}
    if request.get("provider"):
        answer["requestor"] = request["provider"]
    if date:
        answer["servicedDate"] = date
    if problem is not None:
        answer["error"] = [{"code": problem["code"]}]
        answer["disposition"] = problem["code"]["text"]
    if coverage is not None and ref is not None:
        met = await deductible_met(conn, coverage["id"], int(date[:4])) if date and not problem else Decimal(0)
        items = [{"productOrService": i["productOrService"],
                  "authorizationRequired": any(k in plan.preauth_codes for k in coding_keys(i["productOrService"])),
                  **({"benefit": b} if (b := _benefits(coverage, met, currency)) else {})}
                 for i in request.get("item") or [] if i.get("productOrService")]
        answer["insurance"] = [{"coverage": {"reference": f"Coverage/{ref[1]}"}, "inforce": problem is None,
                                **({"item": items} if items and problem is None else {})}]
    return answer


async def submit_eligibility(service: ResourceService, body: Any, policy: Policy, plan: Plan,
                             currency: str) -> dict[str, Any]:
    if not isinstance(body, dict) or body.get("resourceType") != "CoverageEligibilityRequest":
        raise BadRequest("CoverageEligibilityRequest/$submit takes a CoverageEligibilityRequest")
    if not (body.get("insurance") or []):
        raise BadRequest("CoverageEligibilityRequest.insurance is missing: name the Coverage to check")

    async def work(conn: AsyncConnection[Any]) -> dict[str, Any]:
        stored = await interactions.create(conn, service.indexer, "CoverageEligibilityRequest", body, policy=policy)
        request = orjson.loads(stored.version.body or b"{}")
        answer = await interactions.create(conn, service.indexer, "CoverageEligibilityResponse",
                                           await _answer(conn, request, plan, currency), policy=OPEN_POLICY)
        await record_versions(service.trail, conn, policy.access, "create", [stored.version, answer.version])
        result: dict[str, Any] = orjson.loads(answer.version.body or b"{}")
        return result
    return await in_transaction(service.db, work)

