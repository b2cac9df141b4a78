"""$validate at type and instance level (http://hl7.org/fhir/R4/resource-operation-validate.html).

Input: the resource itself, or a Parameters with ``resource``, ``mode`` (create | update |
delete) and ``profile``. For ``Parameters/$validate`` a Parameters body whose parameters are not
only those three is the resource to validate (a Parameters carrying references or a Bundle).
Output: an OperationOutcome with status 200 whenever validation could be performed, valid or
not (4xx only when the request itself is unusable).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from ...errors import BadRequest, Forbidden, Issue, operation_outcome
from ...fhir.body import read_json_body
from ...render import fhir_response
from ...smart_auth.policy import policy_of
from ..interactions import check_type
from ..validation import validate_resource
from .registry import ALL_TYPES, Operation, register

__all__ = ["router", "OPERATION"]

router = APIRouter()
OPERATION = register(Operation("validate", "http://hl7.org/fhir/OperationDefinition/Resource-validate",
                               types=ALL_TYPES, type_level=True, instance_level=True))
MODES = ("create", "update", "delete")
INPUTS = frozenset({"resource", "mode", "profile"})


def _is_input(body: dict[str, Any], rtype: str) -> bool:
    """Whether a Parameters body is the operation's input rather than the resource to validate."""
    if body.get("resourceType") != "Parameters":
        return False
    names = {p.get("name") for p in body.get("parameter") or [] if isinstance(p, dict)}
    return rtype != "Parameters" or (bool(names) and names <= INPUTS)


def _unpack(body: Any, rtype: str) -> tuple[dict[str, Any] | None, str | None, list[str]]:
    """(resource, mode, profiles) from a bare resource or a Parameters body."""
    if not isinstance(body, dict):
        raise BadRequest("$validate needs a resource or a Parameters body")
    if not _is_input(body, rtype):
        return body, None, []
    resource, mode, profiles = None, None, []
    for param in body.get("parameter", []):
        name = param.get("name")
        if name == "resource":
            resource = param.get("resource")
        elif name == "mode":
            mode = param.get("valueCode") or param.get("valueString")
        elif name == "profile":
            profiles.append(param.get("valueUri") or param.get("valueCanonical") or param.get("valueString"))
    if mode is not None and mode not in MODES:
        raise BadRequest(f"$validate mode '{mode}' is not one of {', '.join(MODES)}")
    return resource, mode, [p for p in profiles if p]


def _outcome(issues: list[Issue]) -> dict[str, Any]:
    if not issues:
        issues = [Issue("information", "informational", "Validation successful: no issues found")]
    return operation_outcome(issues)


async def _validate(request: Request, rtype: str, rid: str | None) -> Response:
    check_type(rtype)
    policy = policy_of(request)
    if not any(policy.allows(rtype, interaction) for interaction in "cru"):
        raise Forbidden(f"The access token grants no scope on {rtype}: $validate refused")
    resource, mode, profiles = _unpack(await read_json_body(request), rtype)
    if mode == "delete":
        if rid is None:
            raise BadRequest("$validate with mode=delete needs an instance: [type]/[id]/$validate")
        await request.app.state.resources.read(rtype, rid, policy)
        return fhir_response(request, _outcome([]))
    if resource is None:
        raise BadRequest("$validate: no resource given")
    issues: list[Issue] = []
    if resource.get("resourceType") != rtype:
        issues.append(Issue("error", "invalid", f"resourceType '{resource.get('resourceType')}' is not {rtype}"))
    elif mode == "update" or rid is not None:
        if rid is not None and resource.get("id") != rid:
            issues.append(Issue("error", "invalid", f"Resource id '{resource.get('id')}' does not match '{rid}'"))
        elif "id" not in resource:
            issues.append(Issue("error", "required", "An update needs the resource id", (f"{rtype}.id",)))
    # the resource's own meta.profile claims and the server's required profiles are added by the validator
    named = [*profiles, *request.query_params.getlist("profile")]
    issues.extend(validate_resource(resource, profiles=named, must_support=True, strict_extensions=True))
    return fhir_response(request, _outcome(issues))


@router.post("/{resource_type}/$validate")
async def validate_type(request: Request, resource_type: str) -> Response:
    return await _validate(request, resource_type, None)


@router.post("/{resource_type}/{resource_id}/$validate")
async def validate_instance(request: Request, resource_type: str, resource_id: str) -> Response:
    return await _validate(request, resource_type, resource_id)
