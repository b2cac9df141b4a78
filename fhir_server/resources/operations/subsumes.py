"""CodeSystem/$subsumes (http://hl7.org/fhir/R4/codesystem-operation-subsumes.html):
``codeA``/``codeB`` + ``system`` (+ ``version``), or ``codingA``/``codingB``; the outcome is
equivalent | subsumes | subsumed-by | not-subsumed. A code not in the system is a 422
(``code-invalid``), an unknown system a 404.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ...errors import BadRequest
from ...render import fhir_response
from ...terminology.subsumes import subsumes
from .lookup import code_system_view
from .registry import OPERATION_DEFINITION, Operation, register
from .tx_context import terminology_context
from .tx_params import op_params

__all__ = ["router"]

router = APIRouter()
# Served at [type]/$op and [type]/[id]/$op (GET and POST); declared in the CapabilityStatement.
register(Operation("subsumes", f"{OPERATION_DEFINITION}/CodeSystem-subsumes", types=("CodeSystem",), type_level=True,
                    instance_level=True))


async def _subsumes(request: Request, rid: str | None) -> Response:
    params = await op_params(request, "subsumes")
    a = params.codings("codeA", "system", "codingA", None)[0]
    b = params.codings("codeB", "system", "codingB", None)[0]
    if a.system and b.system and a.system != b.system:
        raise BadRequest(f"$subsumes compares codes of one system, not {a.system} and {b.system}")
    async with terminology_context(request) as tx:
        view, _ = await code_system_view(tx, a.system or b.system, rid, params.text("version"))
        result = await tx.run(lambda: subsumes(view, a.code, b.code))
    return fhir_response(request, result)


@router.api_route("/CodeSystem/$subsumes", methods=["GET", "POST"])
async def subsumes_type(request: Request) -> Response:
    return await _subsumes(request, None)


@router.api_route("/CodeSystem/{resource_id}/$subsumes", methods=["GET", "POST"])
async def subsumes_instance(request: Request, resource_id: str) -> Response:
    return await _subsumes(request, resource_id)
