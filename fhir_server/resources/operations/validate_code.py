"""ValueSet/$validate-code and CodeSystem/$validate-code
(http://hl7.org/fhir/R4/valueset-operation-validate-code.html,
codesystem-operation-validate-code.html): ``code`` + ``system`` (+ ``display``), ``coding`` or
``codeableConcept``; the answer is a Parameters with ``result``, ``message`` and ``display``
(200 whether the code is valid or not; 4xx only for an unusable request).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from ...errors import BadRequest
from ...render import fhir_response
from ...terminology import Concept
from ...terminology.validate_code import Coded, validate_codings
from .lookup import code_system_view
from .registry import OPERATION_DEFINITION, Operation, register
from .tx_context import Tx, terminology_context
from .tx_params import OpParams, op_params

__all__ = ["router"]

router = APIRouter()
# Served at [type]/$op and [type]/[id]/$op (GET and POST); declared in the CapabilityStatement.
for _type in ("ValueSet", "CodeSystem"):
    register(Operation("validate-code", f"{OPERATION_DEFINITION}/{_type}-validate-code", types=(_type,),
                       type_level=True, instance_level=True))


async def _value_set(tx: Tx, params: OpParams, rid: str | None) -> dict[str, Any]:
    if rid is not None:
        return await tx.by_id("ValueSet", rid)
    inline = params.resource("valueSet", "ValueSet")
    if inline is not None:
        return inline
    url = params.text("url")
    if url is None:
        raise BadRequest("ValueSet/$validate-code needs a ValueSet: an instance, 'url' or 'valueSet'")
    version = params.text("valueSetVersion")
    return await tx.value_set(f"{url}|{version}" if version else url)


def _finder(tx: Tx, value_set: dict[str, Any]) -> Any:
    membership = tx.membership()

    def find(coded: Coded) -> Concept | None:
        if coded.system is not None:
            return membership.find(value_set, coded.system, coded.code)
        # A bare code: it must be the code of exactly one concept of the value set.
        matches = [c for c in tx.expander().expand(value_set) if c.code == coded.code]
        return matches[0] if len(matches) == 1 else None
    return find


async def _validate_in_value_set(request: Request, rid: str | None) -> Response:
    params = await op_params(request, "validate-code")
    codings = params.codings()
    async with terminology_context(request) as tx:
        value_set = await _value_set(tx, params, rid)
        await tx.prefetch([value_set])
        where = f"the value set {value_set.get('url') or 'ValueSet/' + str(value_set.get('id'))}"
        result = await tx.run(lambda: validate_codings(codings, _finder(tx, value_set), where))
    return fhir_response(request, result)


async def _validate_in_code_system(request: Request, rid: str | None) -> Response:
    params = await op_params(request, "validate-code")
    codings = params.codings()
    async with terminology_context(request) as tx:
        inline = params.resource("codeSystem", "CodeSystem")
        if inline is not None:
            tx.sources.add(inline)
        url = inline.get("url") if inline else params.text("url") or codings[0].system
        view, _ = await code_system_view(tx, url, rid, params.text("version"))

        def find(coded: Coded) -> Concept | None:
            return view.concept(coded.code) if coded.system in (None, view.url) else None
        result = await tx.run(lambda: validate_codings(codings, find, f"the code system {view.url}"))
    return fhir_response(request, result)


@router.api_route("/ValueSet/$validate-code", methods=["GET", "POST"])
async def value_set_type(request: Request) -> Response:
    return await _validate_in_value_set(request, None)


@router.api_route("/ValueSet/{resource_id}/$validate-code", methods=["GET", "POST"])
async def value_set_instance(request: Request, resource_id: str) -> Response:
    return await _validate_in_value_set(request, resource_id)


@router.api_route("/CodeSystem/$validate-code", methods=["GET", "POST"])
async def code_system_type(request: Request) -> Response:
    return await _validate_in_code_system(request, None)


@router.api_route("/CodeSystem/{resource_id}/$validate-code", methods=["GET", "POST"])
async def code_system_instance(request: Request, resource_id: str) -> Response:
    return await _validate_in_code_system(request, resource_id)
