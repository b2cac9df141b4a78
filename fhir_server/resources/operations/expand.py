"""ValueSet/$expand (http://hl7.org/fhir/R4/valueset-operation-expand.html).

The value set comes from the instance (``ValueSet/[id]/$expand``), ``url`` (stored first, then
the vendored R4 core, the IG packages and ``terminology/``) or an inline ``valueSet`` (POST).
Parameters: ``filter`` (every word in the display or code), ``count``/``offset`` paging,
``includeDesignations``, ``activeOnly``, ``displayLanguage``. An expansion over
``FHIR_MAX_EXPANSION`` codes is a 422 ``too-costly`` OperationOutcome.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from ...errors import BadRequest
from ...render import fhir_response
from ...terminology.outputs import ExpandRequest, expansion_resource
from .registry import OPERATION_DEFINITION, Operation, register
from .tx_context import Tx, terminology_context
from .tx_params import OpParams, op_params

__all__ = ["router"]

router = APIRouter()
# Served at [type]/$op and [type]/[id]/$op (GET and POST); declared in the CapabilityStatement.
register(Operation("expand", f"{OPERATION_DEFINITION}/ValueSet-expand", types=("ValueSet",), type_level=True,
                    instance_level=True))


def _request(params: OpParams) -> ExpandRequest:
    return ExpandRequest(params.text("filter"), params.integer("offset") or 0, params.integer("count"),
                         params.flag("includeDesignations"), params.flag("activeOnly"),
                         params.text("displayLanguage"))


async def _value_set(tx: Tx, params: OpParams, rid: str | None) -> dict[str, Any]:
    if rid is not None:
        return await tx.by_id("ValueSet", rid)
    inline = params.resource("valueSet", "ValueSet")
    if inline is not None:
        return inline
    url = params.text("url")
    if url is None:
        raise BadRequest("$expand needs a ValueSet: an instance, 'url' or 'valueSet'")
    version = params.text("valueSetVersion")
    return await tx.value_set(f"{url}|{version}" if version else url)


async def _expand(request: Request, rid: str | None) -> Response:
    params = await op_params(request, "expand")
    req = _request(params)
    async with terminology_context(request) as tx:
        value_set = await _value_set(tx, params, rid)
        await tx.prefetch([value_set])
        concepts = await tx.run(lambda: tx.expander().expand(value_set, req.filter, req.active_only))
    return fhir_response(request, expansion_resource(value_set, concepts, req))


@router.api_route("/ValueSet/$expand", methods=["GET", "POST"])
async def expand_type(request: Request) -> Response:
    return await _expand(request, None)


@router.api_route("/ValueSet/{resource_id}/$expand", methods=["GET", "POST"])
async def expand_instance(request: Request, resource_id: str) -> Response:
    return await _expand(request, resource_id)
