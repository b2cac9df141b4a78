"""HTTP routes of the claims operations: parse, call one operation, render (habit 1).

POST /Claim/$submit, POST /Claim/$inquire, POST /CoverageEligibilityRequest/$submit, and the
OperationDefinitions and SearchParameters they add (GET /OperationDefinition/<id>,
/SearchParameter/<id>). http://hl7.org/fhir/R4/operations.html
"""

from __future__ import annotations

import uuid
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from ..exchange.bundle import BundleContext, process_transaction
from ..exchange.entries import parse_entries
from ..fhir.body import read_json_body
from ..fhir.datetimes import format_instant, now_instant
from ..render import fhir_response, negotiate
from ..resources.operations.registry import Operation, register
from ..smart_auth.policy import policy_of
from . import eligibility, inquire
from .adjudicate import Plan
from .search_parameters import SEARCH_PARAMETERS
from .submit import CAPABILITY_ENTRY, SubmitHooks, claim_digest, parse_submission

__all__ = ["router", "plan_of"]

router = APIRouter()
DEFINITIONS = Path(__file__).parent / "operation_definitions"
for _entry in (CAPABILITY_ENTRY, inquire.CAPABILITY_ENTRY):
    register(Operation(_entry["name"], _entry["definition"], types=("Claim",), type_level=True))
register(Operation("submit", eligibility.CAPABILITY_ENTRY["definition"], types=("CoverageEligibilityRequest",),
                   type_level=True))


@cache
def _definitions() -> dict[str, bytes]:
    return {path.stem: path.read_bytes() for path in sorted(DEFINITIONS.glob("*.json"))}


def plan_of(request: Request) -> Plan:
    settings = request.app.state.settings
    return Plan(frozenset(settings.claims_preauth_codes), frozenset(settings.claims_review_codes))


def _context(request: Request) -> BundleContext:
    settings = request.app.state.settings
    return BundleContext(request.app.state.db, request.app.state.resources.indexer, settings.public_base,
                         settings.max_conditional_delete, policy_of(request), request.app.state.resources.trail)


def _answer(request: Request, submitted_bundle: bool, response: dict[str, Any], claim: dict[str, Any]) -> Response:
    """The ClaimResponse, or for a Bundle input a collection Bundle with the ClaimResponse first."""
    if not submitted_bundle:
        return fhir_response(request, response)
    base = request.app.state.settings.public_base
    return fhir_response(request, {
        "resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "collection",
        "timestamp": format_instant(now_instant()),
        "entry": [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r} for r in (response, claim)]})


@router.post("/Claim/$submit")
async def submit_route(request: Request) -> Response:
    negotiate(request)  # 406 before anything is stored
    settings = request.app.state.settings
    submission = parse_submission(await read_json_body(request))
    ctx = _context(request)
    _, entries = parse_entries(submission.bundle, settings.public_base, settings.max_bundle_entries)
    hooks = SubmitHooks(ctx, submission, plan_of(request), frozenset(settings.claims_adjudicated_insurers),
                        settings.claims_currency, claim_digest(submission.claim))
    await process_transaction(ctx, entries, hooks)
    return _answer(request, submission.is_bundle, hooks.response, hooks.claim)


@router.post("/Claim/$inquire")
async def inquire_route(request: Request) -> Response:
    claim = inquire.inquiry_claim(await read_json_body(request))
    async with request.app.state.db.connection() as conn:
        response = await inquire.inquire(conn, claim, policy_of(request))
    return fhir_response(request, response)


@router.post("/CoverageEligibilityRequest/$submit")
async def eligibility_route(request: Request) -> Response:
    negotiate(request)
    settings = request.app.state.settings
    answer = await eligibility.submit_eligibility(request.app.state.resources, await read_json_body(request),
                                                  policy_of(request), plan_of(request), settings.claims_currency)
    return fhir_response(request, answer)


def _serving(body: bytes) -> Any:
    async def serve(request: Request) -> Response:
        return fhir_response(request, body)
    return serve


def _add_definition_routes() -> None:
    for rid, body in _definitions().items():
        router.add_api_route(f"/OperationDefinition/{rid}", _serving(body), methods=["GET"])
    for rid, sp in SEARCH_PARAMETERS.items():
        router.add_api_route(f"/SearchParameter/{rid}", _serving(orjson.dumps(sp)), methods=["GET"])


_add_definition_routes()
