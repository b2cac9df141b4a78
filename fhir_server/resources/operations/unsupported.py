"""``$operation`` URLs nothing serves (http://hl7.org/fhir/R4/operations.html#executing).

Included after every operation's own routes and before the generic ones, so that
``GET [base]/Claim/x/$everything`` answers "Operation $everything is not supported on Claim"
(404, issue code ``not-supported``) instead of being taken for a compartment search of a
resource type called "$everything".
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ...errors import FhirError, Issue, MethodNotAllowed, NotFound
from ..interactions import check_type
from . import registry

__all__ = ["router"]

router = APIRouter()
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _served(op: registry.Operation, where: str | None, level: str) -> bool:
    if where is None:
        return op.system
    return op.serves_type(where) and (op.type_level if level == "type" else op.instance_level)


def _refuse(request: Request, code: str, where: str | None, level: str) -> FhirError:
    known = registry.find(code)
    if any(_served(op, where, level) for op in known):  # served, but not with this HTTP method
        return MethodNotAllowed(f"{request.method} is not allowed for ${code}")
    if not known:
        message = f"Unknown operation ${code}: this server does not serve it"
    elif where is None:
        message = f"Operation ${code} is not supported at system level"
    else:
        message = f"Operation ${code} is not supported on {where} ({level} level)"
    return NotFound(message, [Issue("error", "not-supported", message)])


@router.api_route("/${code}", methods=METHODS)
async def system_operation(request: Request, code: str) -> Response:
    raise _refuse(request, code, None, "system")


@router.api_route("/{resource_type}/${code}", methods=METHODS)
async def type_operation(request: Request, resource_type: str, code: str) -> Response:
    raise _refuse(request, code, check_type(resource_type), "type")


@router.api_route("/{resource_type}/{resource_id}/${code}", methods=METHODS)
async def instance_operation(request: Request, resource_type: str, resource_id: str, code: str) -> Response:
    raise _refuse(request, code, check_type(resource_type), "instance")
