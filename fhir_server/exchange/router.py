"""POST [base] with a batch or transaction Bundle (http://hl7.org/fhir/R4/http.html#transaction)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from ..fhir.body import read_json_body
from ..fhir.datetimes import format_instant
from ..render import fhir_response, negotiate
from ..smart_auth.policy import policy_of
from .bundle import BundleContext, process_batch, process_transaction
from .entries import EntryRequest, parse_entries
from .execute import EntryResult

__all__ = ["router"]

router = APIRouter()


def _prefer_return(request: Request) -> str:
    for part in request.headers.get("prefer", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "return":
            return value.strip().strip('"').lower()
    return "minimal"


def _entry_bytes(entry: EntryRequest, result: EntryResult, preference: str) -> bytes:
    response: dict[str, Any] = {"status": result.status}
    if result.location:
        response["location"] = result.location
    if result.etag:
        response["etag"] = result.etag
    if result.last_modified:
        response["lastModified"] = format_instant(result.last_modified)
    if result.outcome:
        response["outcome"] = result.outcome
    include = entry.method == "GET" or preference == "representation"
    head = b'{"resource":' + result.resource + b"," if include and result.resource is not None else b"{"
    return head + b'"response":' + orjson.dumps(response) + b"}"


def _response_bundle(kind: str, base: str, entries: list[EntryRequest], results: list[EntryResult],
                     preference: str) -> bytes:
    head = {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": f"{kind}-response",
            "link": [{"relation": "self", "url": base}]}
    body = b",".join(_entry_bytes(e, r, preference) for e, r in zip(entries, results, strict=True))
    return orjson.dumps(head)[:-1] + b',"entry":[' + body + b"]}"


@router.post("/")
@router.post("")
async def batch_or_transaction(request: Request) -> Response:
    negotiate(request)  # 406 before the bundle runs, never after its commit
    settings = request.app.state.settings
    kind, entries = parse_entries(await read_json_body(request), settings.public_base, settings.max_bundle_entries)
    ctx = BundleContext(request.app.state.db, request.app.state.resources.indexer, settings.public_base,
                        settings.max_conditional_delete, policy_of(request), request.app.state.resources.trail)
    process = process_transaction if kind == "transaction" else process_batch
    results = await process(ctx, entries)
    return fhir_response(request, _response_bundle(kind, settings.public_base, entries, results,
                                                   _prefer_return(request)))
