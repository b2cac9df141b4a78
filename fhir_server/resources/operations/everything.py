"""Patient/$everything (http://hl7.org/fhir/R4/patient-operation-everything.html).

The patient's compartment (official Patient CompartmentDefinition), paged like a search
(``_count``, keyset paging links), with ``_since`` (versions updated at or after the instant)
and ``_type``; each page also carries, as ``include`` entries, the Practitioners,
Organizations, Locations and Medications its resources reference. ``Patient/$everything``
(type level) covers every patient's compartment. ``start``/``end`` (care dates) are not
applied: they reach the search as unknown parameters, which reports them in an
OperationOutcome entry (search.mode = outcome) rather than silently returning everything.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from psycopg import AsyncConnection
from starlette.responses import Response

from ...errors import BadRequest
from ...render import fhir_response
from ...search.compartment import membership, patient_compartment_types
from ...search.includes import visible_rows
from ...search.results import bundle_bytes
from ...search.service import Row, SearchOptions, SearchResult, search
from ...search.sqlfrag import fmt
from ...smart_auth.policy import Policy, policy_of
from .. import repository
from .registry import Operation, register

__all__ = ["router", "OPERATION", "REFERENCED_TYPES"]

router = APIRouter()
OPERATION = register(Operation("everything", "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                               types=("Patient",), type_level=True, instance_level=True))
REFERENCED_TYPES = ["Practitioner", "Organization", "Location", "Medication"]
UNAPPLIED = ("start", "end")


def _translate(items: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[str] | None]:
    """Search items for the compartment search, and the requested types."""
    out: list[tuple[str, str]] = []
    types: list[str] | None = None
    allowed = patient_compartment_types()
    for name, value in items:
        if name == "_since":
            out.append(("_lastUpdated", f"ge{value}"))
        elif name == "_type":
            types = [t.strip() for t in value.split(",") if t.strip()]
            unknown = [t for t in types if t not in allowed]
            if unknown:
                raise BadRequest(f"_type {', '.join(unknown)} is not in the Patient compartment")
        elif name in ("_count", "_cursor", "_format", "_pretty", *UNAPPLIED):
            out.append((name, value))
        else:
            raise BadRequest(f"$everything does not take the parameter {name}")
    return out, types


async def _referenced(conn: AsyncConnection[Any], matches: list[Row], policy: Policy) -> list[Row]:
    if not matches:
        return []
    visible = None if policy.open else policy.readable
    statement = fmt(
        "SELECT DISTINCT r.resource_type, r.id, coalesce(r.body, r.content::text) FROM search_reference i"
        " JOIN resource r ON r.resource_type = i.target_type AND r.id = i.target_id AND NOT r.deleted"
        " WHERE (i.resource_type, i.id) IN (SELECT * FROM unnest({}::text[], {}::text[]))"
        " AND i.target_type = ANY({}) AND {}",
        [m[0] for m in matches], [m[1] for m in matches], REFERENCED_TYPES,
        visible_rows(set(REFERENCED_TYPES), visible))
    cur = await conn.execute(statement.sql, statement.params)
    seen = {(m[0], m[1]) for m in matches}
    return [(t, i, c) for t, i, c in await cur.fetchall() if (t, i) not in seen]


def _options(request: Request) -> SearchOptions:
    settings = request.app.state.settings
    return SearchOptions(settings.public_base, settings.default_page_size, settings.max_page_size, strict=False)


def _render(request: Request, result: SearchResult, path: str) -> Response:
    base = request.app.state.settings.public_base
    return fhir_response(request, bundle_bytes(result, base, base + path))


@router.get("/Patient/{patient_id}/$everything")
async def patient_everything(request: Request, patient_id: str) -> Response:
    items, types = _translate(list(request.query_params.multi_items()))
    policy = policy_of(request)
    async with request.app.state.db.connection() as conn:
        await policy.check_visible(conn, "Patient", patient_id, "r")
        await repository.read(conn, "Patient", patient_id)
        result = await search(conn, types or ["*"], items, _options(request), ("Patient", patient_id),
                              access=policy)
        result.included = await _referenced(conn, result.matches, policy)
    return _render(request, result, f"/Patient/{patient_id}/$everything")


@router.get("/Patient/$everything")
async def all_patients_everything(request: Request) -> Response:
    items, types = _translate(list(request.query_params.multi_items()))
    policy = policy_of(request)
    chosen = types or [t for t in sorted(patient_compartment_types()) if policy.allows(t, "s")]
    extra = {t: membership(t, None) for t in chosen}
    async with request.app.state.db.connection() as conn:
        result = await search(conn, chosen, items, _options(request), extra=extra, access=policy)
        result.included = await _referenced(conn, result.matches, policy)
    return _render(request, result, "/Patient/$everything")
