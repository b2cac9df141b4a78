"""HTTP routes of the admissions operations: parse, call one operation, render (habit 1).

GET /Encounter/$triage-queue, GET /Organization/[id]/$tree, GET /Location/[id]/$bed-board, and
their OperationDefinitions (GET /OperationDefinition/Encounter-triage-queue, Organization-tree,
Location-bed-board).
http://hl7.org/fhir/R4/operations.html
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..errors import BadRequest
from ..render import fhir_response
from ..resources.operations.registry import Operation, register
from ..smart_auth.policy import policy_of
from . import bed_board, tree, triage

__all__ = ["router"]

router = APIRouter()
DEFINITIONS = Path(__file__).parent / "operation_definitions"
register(Operation(triage.CAPABILITY_ENTRY["name"], triage.CAPABILITY_ENTRY["definition"], types=("Encounter",),
                   type_level=True))
register(Operation(tree.CAPABILITY_ENTRY["name"], tree.CAPABILITY_ENTRY["definition"], types=("Organization",),
                   instance_level=True))
register(Operation(bed_board.CAPABILITY_ENTRY["name"], bed_board.CAPABILITY_ENTRY["definition"],
                   types=("Location",), instance_level=True))


@cache
def _definitions() -> dict[str, bytes]:
    return {path.stem: path.read_bytes() for path in sorted(DEFINITIONS.glob("*.json"))}


def _single(request: Request) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name in params:
            raise BadRequest(f"parameter {name} is given twice")
        params[name] = value
    return params


@router.get("/Encounter/$triage-queue")
async def triage_route(request: Request) -> Response:
    settings = request.app.state.settings
    async with request.app.state.db.connection() as conn:
        bundle = await triage.triage_queue(conn, _single(request), policy_of(request), settings.public_base,
                                           settings.timezone)
    return fhir_response(request, bundle)


@router.get("/Organization/{resource_id}/$tree")
async def tree_route(request: Request, resource_id: str) -> Response:
    async with request.app.state.db.connection() as conn:
        bundle = await tree.tree(conn, resource_id, policy_of(request), request.app.state.settings.public_base)
    return fhir_response(request, bundle)


@router.get("/Location/{resource_id}/$bed-board")
async def bed_board_route(request: Request, resource_id: str) -> Response:
    async with request.app.state.db.connection() as conn:
        board = await bed_board.bed_board(conn, resource_id, policy_of(request))
    return fhir_response(request, board)


def _serving(body: bytes) -> Any:
    async def serve(request: Request) -> Response:
        return fhir_response(request, body)
    return serve


for _rid in ("Encounter-triage-queue", "Organization-tree", "Location-bed-board"):
    router.add_api_route(f"/OperationDefinition/{_rid}", _serving(_definitions()[_rid]), methods=["GET"])
