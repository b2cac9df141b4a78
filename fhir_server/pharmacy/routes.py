"""HTTP routes of the pharmacy: ``GET|POST /Medication/$stock`` and its OperationDefinition
(GET /OperationDefinition/Medication-stock). http://hl7.org/fhir/R4/operations.html"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..errors import BadRequest
from ..fhir.body import read_json_body
from ..render import fhir_response
from ..resources.operations.registry import Operation, register
from ..smart_auth.policy import policy_of
from . import stock_query

__all__ = ["router"]

router = APIRouter()
DEFINITION = Path(__file__).parent / "operation_definitions" / "Medication-stock.json"
register(Operation(stock_query.CAPABILITY_ENTRY["name"], stock_query.CAPABILITY_ENTRY["definition"],
                   types=("Medication",), type_level=True))


@cache
def _definition() -> bytes:
    return DEFINITION.read_bytes()


def _parameter_items(body: Any) -> list[tuple[str, str]]:
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise BadRequest("POST $stock takes a Parameters body")
    items = []
    for param in body.get("parameter") or []:
        value = next((v for k, v in param.items() if k.startswith("value")), None) if isinstance(param, dict) else None
        if value is None:
            raise BadRequest("Each $stock parameter needs a name and a value[x]")
        items.append((str(param.get("name")), str(value.get("reference") if isinstance(value, dict) else value)))
    return items


async def _params(request: Request) -> dict[str, str]:
    items = list(request.query_params.multi_items())
    if request.method == "POST":
        items += _parameter_items(await read_json_body(request))
    params: dict[str, str] = {}
    for name, value in items:
        if name in params:
            raise BadRequest(f"$stock parameter {name} is given twice")
        params[name] = value
    return params


@router.get("/Medication/$stock")
@router.post("/Medication/$stock")
async def stock_route(request: Request) -> Response:
    policy = policy_of(request)
    params = await _params(request)
    async with request.app.state.db.connection() as conn:
        body = await stock_query.stock(conn, params, policy)
    return fhir_response(request, body)


@router.get("/OperationDefinition/Medication-stock")
async def definition_route(request: Request) -> Response:
    return fhir_response(request, _definition())
