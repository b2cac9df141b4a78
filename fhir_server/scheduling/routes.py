"""HTTP routes of the scheduling operations: parse, call one operation, render (habit 1).

POST /Appointment/$book, /Appointment/$hold, /Appointment/[id]/$cancel,
GET|POST /Appointment/$find, POST /Schedule/[id]/$generate-slots, and the OperationDefinitions and
SearchParameters they add (GET /OperationDefinition/<id>, /SearchParameter/<id>).
http://hl7.org/fhir/R4/operations.html
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from ..errors import BadRequest
from ..fhir.body import read_json_body
from ..jsonio import dumps, parse_json
from ..render import fhir_response
from ..resources.operations.registry import Operation, register
from ..search.service import SearchOptions
from ..smart_auth.policy import policy_of
from . import book, cancel, find, generate_slots, hold, idempotency
from .params import appointment_in, parameter_value
from .search_parameters import SEARCH_PARAMETERS
from .writes import unit_of_work

__all__ = ["router"]

router = APIRouter()
DEFINITIONS = Path(__file__).parent / "operation_definitions"
# Declared in the CapabilityStatement through the operations registry, at the levels served below.
for _entry, _type, _instance in ((find.CAPABILITY_ENTRY, "Appointment", False),
                                 (hold.CAPABILITY_ENTRY, "Appointment", False),
                                 (book.CAPABILITY_ENTRY, "Appointment", False),
                                 (cancel.CAPABILITY_ENTRY, "Appointment", True),
                                 (generate_slots.CAPABILITY_ENTRY, "Schedule", True)):
    register(Operation(_entry["name"], _entry["definition"], types=(_type,), type_level=not _instance,
                       instance_level=_instance))


@cache
def _definitions() -> dict[str, bytes]:
    return {path.stem: path.read_bytes() for path in sorted(DEFINITIONS.glob("*.json"))}


def _resource_response(request: Request, resource: dict[str, Any], status: int = 200) -> Response:
    headers = {"Location": f"{request.app.state.settings.public_base}/Appointment/{resource['id']}"
                           f"/_history/{resource['meta']['versionId']}",
               "ETag": f'W/"{resource["meta"]["versionId"]}"'}
    return fhir_response(request, resource, status, headers=headers)


@router.post("/Appointment/$book")
async def book_route(request: Request) -> Response:
    policy = policy_of(request)
    raw = await request.body()
    appointment = appointment_in(await read_json_body(request), "$book")
    key = idempotency.key_of(request.headers.get(idempotency.HEADER), policy)
    settings = request.app.state.settings
    async with unit_of_work(request.app.state.resources, policy) as writes:
        if key is not None:
            replay = await idempotency.claim(writes.conn, key, idempotency.request_hash(raw),
                                             settings.idempotency_hours)
            if replay is not None:
                return fhir_response(request, replay[1], replay[0], headers={"Idempotent-Replayed": "true"})
        booked = await book.book(writes, appointment)
        if key is not None:
            await idempotency.remember(writes.conn, key, 200, dumps(booked))
    return _resource_response(request, booked)


@router.post("/Appointment/$hold")
async def hold_route(request: Request) -> Response:
    policy = policy_of(request)
    appointment = appointment_in(await read_json_body(request), "$hold")
    async with unit_of_work(request.app.state.resources, policy) as writes:
        held = await hold.hold(writes, appointment, request.app.state.settings.hold_minutes)
    return _resource_response(request, held)


@router.post("/Appointment/{resource_id}/$cancel")
async def cancel_route(request: Request, resource_id: str) -> Response:
    policy = policy_of(request)
    raw = await request.body()
    body = parse_json(raw, request.app.state.settings.max_json_depth) if raw.strip() else None
    async with unit_of_work(request.app.state.resources, policy) as writes:
        cancelled = await cancel.cancel(writes, resource_id, parameter_value(body, "reason"))
    return _resource_response(request, cancelled)


async def _find_params(request: Request) -> dict[str, str]:
    items = list(request.query_params.multi_items())
    if request.method == "POST":
        body = await read_json_body(request)
        for param in (body or {}).get("parameter") or [] if isinstance(body, dict) else []:
            value = next((v for k, v in param.items() if k.startswith("value")), None)
            if isinstance(param, dict) and value is not None:
                items.append((str(param.get("name")), str(value)))
    params: dict[str, str] = {}
    for name, value in items:
        if name in params:
            raise BadRequest(f"$find parameter {name} is given twice")
        params[name] = value
    return params


@router.get("/Appointment/$find")
@router.post("/Appointment/$find")
async def find_route(request: Request) -> Response:
    policy = policy_of(request)
    settings = request.app.state.settings
    options = SearchOptions(settings.public_base, settings.default_page_size, settings.max_page_size)
    params = await _find_params(request)
    async with request.app.state.db.connection() as conn:
        bundle = await find.find(conn, params, policy, options)
    return fhir_response(request, bundle)


@router.post("/Schedule/{resource_id}/$generate-slots")
async def generate_slots_route(request: Request, resource_id: str) -> Response:
    policy = policy_of(request)
    body = await read_json_body(request)
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise BadRequest("$generate-slots needs a Parameters body with start and end")
    start, end = parameter_value(body, "start"), parameter_value(body, "end")
    if start is None or end is None:
        raise BadRequest("$generate-slots needs the parameters start and end")
    minutes = parameter_value(body, "slotMinutes") or 60
    if not isinstance(minutes, int):
        raise BadRequest("$generate-slots slotMinutes must be an integer (valueInteger)")
    settings = request.app.state.settings
    async with unit_of_work(request.app.state.resources, policy) as writes:
        counts = await generate_slots.generate(writes, resource_id, generate_slots.parse_day(start, "start"),
                                               generate_slots.parse_day(end, "end"), settings.timezone, minutes)
    return fhir_response(request, {"resourceType": "Parameters", "parameter": [
        {"name": name, "valueInteger": value} for name, value in counts.items()]})


def _serving(body: bytes) -> Any:
    async def serve(request: Request) -> Response:
        return fhir_response(request, body)
    return serve


def _add_definition_routes() -> None:
    for rid in ("Appointment-find", "Appointment-hold", "Appointment-book", "Appointment-cancel",
                "Schedule-generate-slots"):
        router.add_api_route(f"/OperationDefinition/{rid}", _serving(_definitions()[rid]), methods=["GET"])
    for rid, sp in SEARCH_PARAMETERS.items():
        router.add_api_route(f"/SearchParameter/{rid}", _serving(orjson.dumps(sp)), methods=["GET"])


_add_definition_routes()
