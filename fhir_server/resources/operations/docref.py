"""DocumentReference/$docref, US Core's "fetch DocumentReference" operation
(http://hl7.org/fhir/us/core/OperationDefinition/docref): the patient's documents, optionally
within a care period (``start``/``end`` against ``DocumentReference.context.period``) and of a
``type``; without a period, the most current first. It is a search (same access rules, paging
and Bundle) over stored documents: this server does not assemble documents on demand, so
``on-demand=true`` is refused rather than answered with stored ones as if they were fresh.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from ...errors import BadRequest, FhirError
from ...fhir.body import read_json_body
from ...render import fhir_response
from ...search.results import bundle_bytes
from ...search.service import SearchOptions, search
from ...smart_auth.policy import policy_of
from .registry import Operation, register

__all__ = ["router", "OPERATION", "search_items"]

router = APIRouter()
OPERATION = register(Operation("docref", "http://hl7.org/fhir/us/core/OperationDefinition/docref",
                               types=("DocumentReference",), type_level=True))
class OnDemandNotSupported(FhirError):
    status, code = 400, "not-supported"


PARAMETERS = ("patient", "start", "end", "type", "on-demand", "_count", "_format", "_pretty")


def search_items(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """$docref parameters -> the DocumentReference search that answers them (pure)."""
    unknown = sorted({name for name, _ in params if name not in PARAMETERS})
    if unknown:
        raise BadRequest(f"$docref does not take {', '.join(unknown)} (parameters: patient, start, end, type, "
                         "on-demand)")
    values: dict[str, list[str]] = {}
    for name, value in params:
        values.setdefault(name, []).append(value)
    patients = values.get("patient", [])
    if len(patients) != 1 or not patients[0].strip():
        raise BadRequest("$docref needs exactly one patient (a Patient id or reference)")
    if any(v.strip().lower() == "true" for v in values.get("on-demand", [])):
        raise OnDemandNotSupported("$docref on-demand=true: this server does not assemble documents on demand; "
                           "ask without it for the stored documents")
    items = [("patient", patients[0].strip())]
    items += [("period", f"ge{v}") for v in values.get("start", [])]
    items += [("period", f"le{v}") for v in values.get("end", [])]
    items += [("type", v) for v in values.get("type", [])]
    if "start" not in values and "end" not in values:
        items.append(("_sort", "-date"))  # "the most current document(s)"
    items += [(name, v) for name in ("_count", "_format", "_pretty") for v in values.get(name, [])]
    return items


def _parameters(body: Any) -> list[tuple[str, str]]:
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise BadRequest("$docref by POST takes a Parameters resource")
    out = []
    for param in body.get("parameter") or ():
        value = next((v for k, v in param.items() if k.startswith("value")), None)
        if isinstance(param.get("name"), str) and isinstance(value, str | bool):
            out.append((param["name"], str(value).lower() if isinstance(value, bool) else value))
        elif isinstance(param.get("name"), str) and isinstance(value, dict) and param["name"] == "type":
            coding = (value.get("coding") or [{}])[0] if "coding" in value else value
            out.append(("type", f"{coding.get('system', '')}|{coding.get('code', '')}"))
    return out


async def _run(request: Request, params: list[tuple[str, str]]) -> Response:
    settings = request.app.state.settings
    options = SearchOptions(settings.public_base, settings.default_page_size, settings.max_page_size)
    async with request.app.state.db.connection() as conn:
        result = await search(conn, ["DocumentReference"], search_items(params), options,
                              access=policy_of(request))
    return fhir_response(request, bundle_bytes(result, options.base, f"{options.base}/DocumentReference"))


@router.get("/DocumentReference/$docref")
async def docref(request: Request) -> Response:
    return await _run(request, list(request.query_params.multi_items()))


@router.post("/DocumentReference/$docref")
async def docref_post(request: Request) -> Response:
    return await _run(request, list(request.query_params.multi_items()) + _parameters(await read_json_body(request)))
