"""CodeSystem/$lookup (http://hl7.org/fhir/R4/codesystem-operation-lookup.html): ``code`` +
``system`` (+ ``version``) or ``coding``; ``property`` (repeatable) restricts the properties
returned, ``displayLanguage`` picks a designation as display. An unknown system or code is 404.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ...errors import BadRequest
from ...render import fhir_response
from ...terminology import UnknownCodeSystem
from ...terminology.codesystem import SystemView
from ...terminology.lookup import lookup
from .registry import OPERATION_DEFINITION, Operation, register
from .tx_context import Tx, terminology_context
from .tx_params import op_params

__all__ = ["router", "code_system_view"]

router = APIRouter()
# Served at [type]/$op and [type]/[id]/$op (GET and POST); declared in the CapabilityStatement.
register(Operation("lookup", f"{OPERATION_DEFINITION}/CodeSystem-lookup", types=("CodeSystem",), type_level=True,
                    instance_level=True))


async def code_system_view(tx: Tx, system: str | None, rid: str | None, version: str | None = None
                           ) -> tuple[SystemView, str]:
    """The code system by instance id or url (stored first), and its name for the output."""
    if rid is not None:
        resource = await tx.by_id("CodeSystem", rid)
        system = resource.get("url")
        if not isinstance(system, str):
            raise BadRequest(f"CodeSystem/{rid} has no url")
    if system is None:
        raise BadRequest("The code system is missing: give 'system' (or 'url'), a coding, or call it on an instance")
    canonical = f"{system}|{version}" if version else system
    await tx.by_url("CodeSystem", {canonical})
    view = tx.sources.code_system(canonical)
    if view is None:
        raise UnknownCodeSystem(f"CodeSystem {canonical} is not known to this server")
    resource = tx.sources.code_systems.get(system) or tx.loaded.get(system) or getattr(view, "resource", {})
    return view, str(resource.get("name") or resource.get("title") or system)


async def _lookup(request: Request, rid: str | None) -> Response:
    params = await op_params(request, "lookup")
    coded = params.codings(concept_name=None)[0]
    async with terminology_context(request) as tx:
        view, name = await code_system_view(tx, coded.system, rid, params.text("version"))
        result = await tx.run(lambda: lookup(view, name, coded.code, params.texts("property"),
                                             params.text("displayLanguage")))
    return fhir_response(request, result)


@router.api_route("/CodeSystem/$lookup", methods=["GET", "POST"])
async def lookup_type(request: Request) -> Response:
    return await _lookup(request, None)


@router.api_route("/CodeSystem/{resource_id}/$lookup", methods=["GET", "POST"])
async def lookup_instance(request: Request, resource_id: str) -> Response:
    return await _lookup(request, resource_id)
