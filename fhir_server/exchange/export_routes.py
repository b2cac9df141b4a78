"""Routes of the Bulk Data async pattern (https://hl7.org/fhir/uv/bulkdata/export.html):
kick-off (system, Patient, Group), status polling, cancellation and NDJSON file download."""

from __future__ import annotations

import gzip
import re
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from ..definitions import definitions
from ..errors import BadRequest, Forbidden, NotFound, ServerError
from ..fhir.body import read_json_body
from ..fhir.datetimes import format_instant, parse_instant
from ..render import fhir_response
from ..resources import repository
from ..resources.operations.registry import Operation, register
from ..search.compartment import patient_compartment_types
from ..smart_auth.policy import policy_of
from .bulk_export import OUTPUT_FORMATS, ExportParams, cancel_job, create_job, job_owner, job_status, parse_types
from .export_scope import ExportScope

__all__ = ["router", "OPERATIONS"]

router = APIRouter()
_BULK = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/"
OPERATIONS = (
    register(Operation("export", _BULK + "export", system=True)),
    register(Operation("export", _BULK + "patient-export", types=("Patient",), type_level=True)),
    register(Operation("export", _BULK + "group-export", types=("Group",), instance_level=True)),
)
_FILTER_SPLIT = re.compile(r",(?=[A-Z][A-Za-z]+\?)")


def _params_from_request(request: Request, body: Any) -> list[tuple[str, str]]:
    params = list(request.query_params.multi_items())
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        for p in body.get("parameter", []):
            value = next((v for k, v in p.items() if k.startswith("value")), None)
            if p.get("name") and value is not None:
                params.append((p["name"], str(value)))
    return params


def _type_filters(values: list[str], types: list[str]) -> dict[str, list[list[tuple[str, str]]]]:
    filters: dict[str, list[list[tuple[str, str]]]] = {}
    for value in values:
        for item in _FILTER_SPLIT.split(value):
            rtype, sep, query = item.partition("?")
            if not sep or rtype not in types:
                raise BadRequest(f"_typeFilter {item!r} must be [type]?[search] for a type in _type")
            filters.setdefault(rtype, []).append(parse_qsl(query, keep_blank_values=True))
    return filters


def _export_params(params: list[tuple[str, str]], allowed: frozenset[str]) -> ExportParams:
    values: dict[str, list[str]] = {}
    for key, value in params:
        values.setdefault(key, []).append(value)
    output_format = values.get("_outputFormat", ["application/fhir+ndjson"])[0].replace(" ", "+")
    if output_format not in OUTPUT_FORMATS:
        raise BadRequest(f"_outputFormat {output_format} is not supported: use application/fhir+ndjson")
    types = parse_types(",".join(values["_type"]) if "_type" in values else None, allowed)
    since = parse_instant(values["_since"][0], "_since") if "_since" in values else None
    return ExportParams(types, since, _type_filters(values.get("_typeFilter", []), types), output_format)


async def _kick_off(request: Request, scope: ExportScope, allowed: frozenset[str]) -> Response:
    if "respond-async" not in request.headers.get("prefer", ""):
        raise BadRequest("$export needs the header Prefer: respond-async")
    body = await read_json_body(request) if request.method == "POST" else None
    raw = _params_from_request(request, body)
    params = _export_params(raw, allowed)
    policy = policy_of(request)
    if policy.limited_to_records:  # a patient's own record is Patient/[id]/$everything, not a bulk job
        raise Forbidden("Bulk export is not available to tokens limited to one patient's record: "
                        "use Patient/[id]/$everything")
    if any(name == "_type" for name, _ in raw):  # asked for by name: each must be readable in full
        for rtype in params.types:
            policy.require_unrestricted(rtype, "r", "Bulk export")
    else:  # everything the token may read in full (Bulk Data 2.0: limited to what the client may see)
        readable = [t for t in params.types if policy.reads_everything(t)]
        if not readable:
            raise Forbidden("Bulk export needs system/ (or unrestricted user/) read scopes")
        params = replace(params, types=readable)
    job_id = await create_job(request.app.state.db, scope, params, str(request.url), policy.access.client_id,
                              policy.access.user)
    status_url = f"{request.app.state.settings.public_base}/bulkstatus/{job_id}"
    return Response(status_code=202, headers={"Content-Location": status_url})


@router.api_route("/$export", methods=["GET", "POST"])
async def system_export(request: Request) -> Response:
    return await _kick_off(request, ExportScope("system", None), definitions().resource_types)


@router.api_route("/Patient/$export", methods=["GET", "POST"])
async def patient_export(request: Request) -> Response:
    return await _kick_off(request, ExportScope("patient", None), patient_compartment_types())


@router.api_route("/Group/{group_id}/$export", methods=["GET", "POST"])
async def group_export(request: Request, group_id: str) -> Response:
    async with request.app.state.db.connection() as conn:
        await repository.read(conn, "Group", group_id)
    return await _kick_off(request, ExportScope("group", group_id), patient_compartment_types())


async def _check_owner(request: Request, job_id: str) -> None:
    """Only the client and user that started an export see it (404 for anyone else: ids must not leak)."""
    exists, owner = await job_owner(request.app.state.db, job_id)
    access = policy_of(request).access
    if exists and request.app.state.settings.auth == "on" and owner != (access.client_id, access.user):
        raise NotFound(f"No export job {job_id} (unknown, cancelled or expired)")


def _manifest(base: str, job_id: str, status: dict[str, Any], needs_token: bool) -> dict[str, Any]:
    files = [{"type": rtype, "url": f"{base}/bulkfiles/{job_id}/{file_no}", "count": count}
             for file_no, rtype, kind, count in status["files"] if kind == "output"]
    return {"transactionTime": format_instant(status["transaction_time"]), "request": status["request"],
            "requiresAccessToken": needs_token, "output": files, "error": []}


@router.get("/bulkstatus/{job_id}")
async def export_status(request: Request, job_id: str) -> Response:
    await _check_owner(request, job_id)
    status = await job_status(request.app.state.db, job_id)
    if status["status"] in ("pending", "running"):
        progress = status["progress"] or status["status"]
        return Response(status_code=202, headers={"X-Progress": progress[:100], "Retry-After": "2"})
    if status["status"] == "failed":
        raise ServerError(f"Export failed: {status['error'] or 'unknown error'}")
    settings = request.app.state.settings
    body = orjson.dumps(_manifest(settings.public_base, job_id, status, settings.auth == "on"))
    return Response(body, status_code=200, media_type="application/json")


@router.delete("/bulkstatus/{job_id}")
async def export_cancel(request: Request, job_id: str) -> Response:
    await _check_owner(request, job_id)
    await cancel_job(request.app.state.db, job_id)
    return fhir_response(request, {"resourceType": "OperationOutcome", "issue": [
        {"severity": "information", "code": "informational", "diagnostics": f"Export {job_id} cancelled"}]}, 202)


@router.get("/bulkfiles/{job_id}/{file_no}")
async def export_file(request: Request, job_id: str, file_no: int) -> Response:
    await _check_owner(request, job_id)
    async with request.app.state.db.connection() as conn:
        cur = await conn.execute(
            "SELECT f.content FROM export_file f JOIN export_job j ON j.id = f.job_id"
            " WHERE f.job_id::text = %s AND f.file_no = %s AND j.status = 'complete'", (job_id, file_no))
        row = await cur.fetchone()
    if row is None:
        raise NotFound(f"No export file {job_id}/{file_no}")
    media = "application/fhir+ndjson"
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(bytes(row[0]), media_type=media, headers={"Content-Encoding": "gzip"})
    return Response(gzip.decompress(row[0]), media_type=media)
