"""Patient/[id]/$summary and Patient/$summary?identifier=: the International Patient Summary
operation (http://hl7.org/fhir/uv/ips/OperationDefinition/summary), readable with the same
scopes as Patient/$everything: the caller must be able to read the Patient, and each section
holds only what the caller may read (collect.py). ``profile`` is not supported (the document is
IPS-shaped; it is not validated against the IPS profiles): asking for one is a 400.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..errors import BadRequest, Conflict, NotFound
from ..render import fhir_response
from ..resources import repository
from ..resources.operations.registry import Operation, register
from ..search.service import Row, SearchOptions, search
from ..smart_auth.policy import policy_of
from .collect import collect
from .document import document_bytes

__all__ = ["router", "OPERATION"]

router = APIRouter()
CANONICAL = "http://hl7.org/fhir/uv/ips/OperationDefinition/summary"
OPERATION = register(Operation("summary", CANONICAL, types=("Patient",), type_level=True, instance_level=True))
DEFINITION = Path(__file__).parent / "operation_definitions" / "Patient-summary.json"
FORMAT_PARAMS = ("_format", "_pretty")


@cache
def _definition() -> bytes:
    return DEFINITION.read_bytes()


def _options(request: Request) -> SearchOptions:
    settings = request.app.state.settings
    return SearchOptions(settings.public_base, settings.default_page_size, settings.max_page_size, strict=True)


def _check_params(request: Request, allowed: tuple[str, ...]) -> None:
    for name in request.query_params:
        if name == "profile":
            raise BadRequest("$summary does not support the profile parameter: the document follows the IPS"
                             " structure but is not validated against the IPS profiles")
        if name not in allowed:
            raise BadRequest(f"$summary does not take the parameter {name}")


async def _summary(request: Request, patient_id: str) -> Response:
    policy = policy_of(request)
    settings = request.app.state.settings
    limit = min(settings.summary_section_limit, settings.max_page_size - 1)
    async with request.app.state.db.connection() as conn:
        await policy.check_visible(conn, "Patient", patient_id, "r")
        version = await repository.read(conn, "Patient", patient_id)
        patient: Row = ("Patient", patient_id, (version.body or b"{}").decode())
        sections = await collect(conn, patient_id, _options(request), policy, limit)
    return fhir_response(request, document_bytes(patient, sections, settings.public_base, limit))


@router.get("/Patient/{patient_id}/$summary")
async def patient_summary(request: Request, patient_id: str) -> Response:
    _check_params(request, FORMAT_PARAMS)
    return await _summary(request, patient_id)


@router.get("/Patient/$summary")
async def summary_by_identifier(request: Request) -> Response:
    """The IPS type-level form: the one Patient the caller may read with this identifier."""
    _check_params(request, ("identifier", *FORMAT_PARAMS))
    identifier = request.query_params.get("identifier")
    if not identifier:
        raise BadRequest("Patient/$summary needs the identifier parameter (or use Patient/[id]/$summary)")
    policy = policy_of(request)
    async with request.app.state.db.connection() as conn:
        found = await search(conn, ["Patient"], [("identifier", identifier), ("_count", "2"), ("_elements", "id")],
                             _options(request), access=policy)
    if not found.matches:
        raise NotFound(f"No Patient with identifier {identifier} is known")
    if len(found.matches) > 1:
        raise Conflict(f"More than one Patient has identifier {identifier}: use Patient/[id]/$summary")
    return await _summary(request, found.matches[0][1])


@router.get("/OperationDefinition/Patient-summary")
async def operation_definition(request: Request) -> Response:
    return fhir_response(request, _definition())
