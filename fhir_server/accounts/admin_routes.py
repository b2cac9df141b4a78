"""The admin API (JSON) under /admin/: users and their roles, the blacklist.

GET  /admin/users                          every user with roles and flags
POST /admin/users                          {"username", "password", "fhir_user", "roles": [...]} -> 201
POST /admin/users/{username}/roles         {"add": [...], "remove": [...]}
POST /admin/users/{username}/deactivate    blacklist (blacklist.py)
POST /admin/users/{username}/activate
DELETE /admin/users/{username}             remove the account (its grants and tokens go with it)
GET  /admin/roles                          each role's scope caps (the data)

Only for admins (admin_access.py); each call is audited (subtype ``admin-<action>``, the
acting user, the target username in outcomeDesc; never the password). Errors are
OperationOutcomes: 400 malformed, 404 unknown user, 409 duplicate, 422 a rule (unknown role,
short password).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from ..audit.trail import AuditEventDraft
from ..errors import BadRequest, FhirError, NotFound
from ..request_id import current_request_id
from ..smart_auth import roles, storage
from . import users
from .admin_access import Admin, require_admin
from .blacklist import set_active

__all__ = ["router"]

router = APIRouter(prefix="/admin")
MAX_BODY = 64 * 1024


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store"})


def _audit(request: Request, admin: Admin, action: str, ok: bool, detail: str) -> None:
    trail = getattr(request.app.state, "audit", None)
    if trail is not None:
        trail.record_later(AuditEventDraft(
            subtype=f"admin-{action}", outcome="0" if ok else "4", outcome_desc=detail, client_id=admin.client_id,
            user_ref=admin.fhir_user, request_id=current_request_id(),
            address=request.client.host if request.client else None))


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise BadRequest("Request body too large")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest("The body must be a JSON object") from exc
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object")
    return body


def _strings(body: dict[str, Any], key: str, required: bool = False) -> list[str]:
    value = body.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or (required and not value):
        raise BadRequest(f"{key!r} must be a list of role names")
    return list(value)


def _string(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{key!r} is required (a string)")
    return value


async def _audited(request: Request, admin: Admin, action: str, target: str, call: Any) -> Any:
    try:
        result = await call
    except FhirError as exc:
        _audit(request, admin, action, False, f"user {target!r}: {exc.message}")
        raise
    _audit(request, admin, action, True, f"user {target!r}")
    return result


@router.get("/users")
async def list_users(request: Request) -> Response:
    await require_admin(request)
    return _json(await users.list_users(request.app.state.db))


@router.get("/roles")
async def list_roles(request: Request) -> Response:
    await require_admin(request)
    return _json(await roles.role_scopes(request.app.state.db))


@router.post("/users")
async def add_user(request: Request) -> Response:
    admin = await require_admin(request)
    body = await _body(request)
    username = _string(body, "username")
    call = users.add_user(request.app.state.db, username, _string(body, "password"), _string(body, "fhir_user"),
                          _strings(body, "roles", required=True))
    return _json(await _audited(request, admin, "add", username, call), 201)


@router.post("/users/{username}/roles")
async def change_roles(username: str, request: Request) -> Response:
    admin = await require_admin(request)
    body = await _body(request)
    call = users.change_roles(request.app.state.db, username, _strings(body, "add"), _strings(body, "remove"))
    return _json(await _audited(request, admin, "roles", username, call))


@router.post("/users/{username}/deactivate")
async def deactivate(username: str, request: Request) -> Response:
    admin = await require_admin(request)
    call = set_active(request.app.state.resources, username, False)
    return _json(await _audited(request, admin, "deactivate", username, call))


@router.post("/users/{username}/activate")
async def activate(username: str, request: Request) -> Response:
    admin = await require_admin(request)
    call = set_active(request.app.state.resources, username, True)
    return _json(await _audited(request, admin, "activate", username, call))


async def _remove(request: Request, username: str) -> dict[str, Any]:
    if not await storage.remove_user(request.app.state.db, username):
        raise NotFound(f"No user {username!r}")
    return {"username": username, "removed": True}


@router.delete("/users/{username}")
async def remove_user(username: str, request: Request) -> Response:
    admin = await require_admin(request)
    return _json(await _audited(request, admin, "remove", username, _remove(request, username)))
