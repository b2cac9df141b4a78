"""ConceptMap/$translate (http://hl7.org/fhir/R4/conceptmap-operation-translate.html):
``code`` + ``system``, ``coding`` or ``codeableConcept``; the map from the instance, ``url``
(stored first, then ``terminology/``), an inline ``conceptMap``, or, without any, every stored
ConceptMap with a group from the source system and those of ``terminology/``; ``target``,
``targetsystem`` and ``reverse`` narrow or turn the lookup.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from ...errors import BadRequest, NotFound
from ...render import fhir_response
from ...search.service import SearchOptions, search
from ...smart_auth.policy import policy_of
from ...terminology import concept_maps
from ...terminology.translate import TranslateRequest, translate
from .registry import OPERATION_DEFINITION, Operation, register
from .tx_context import Tx, terminology_context
from .tx_params import OpParams, op_params

__all__ = ["router"]

router = APIRouter()
# Served at [type]/$op and [type]/[id]/$op (GET and POST); declared in the CapabilityStatement.
register(Operation("translate", f"{OPERATION_DEFINITION}/ConceptMap-translate", types=("ConceptMap",), type_level=True,
                    instance_level=True))


async def _by_source_system(tx: Tx, system: str, reverse: bool) -> list[dict[str, Any]]:
    settings = tx.request.app.state.settings
    if not policy_of(tx.request).allows("ConceptMap", "s"):
        return [m for url, m in concept_maps().items() if "|" not in url]
    name = "target-system" if reverse else "source-system"
    result = await search(tx.conn, ["ConceptMap"], [(name, system), ("_count", str(settings.max_page_size))],
                          SearchOptions(settings.public_base, 100, settings.max_page_size),
                          access=policy_of(tx.request))
    stored = [orjson.loads(row[2]) for row in result.matches]
    urls = {m.get("url") for m in stored}
    return stored + [m for url, m in concept_maps().items() if url not in urls and "|" not in url]


async def _maps(tx: Tx, params: OpParams, rid: str | None, system: str, reverse: bool) -> list[dict[str, Any]]:
    if rid is not None:
        return [await tx.by_id("ConceptMap", rid)]
    inline = params.resource("conceptMap", "ConceptMap")
    if inline is not None:
        return [inline]
    url = params.text("url")
    if url is None:
        return await _by_source_system(tx, system, reverse)
    version = params.text("conceptMapVersion")
    canonical = f"{url}|{version}" if version else url
    await tx.by_url("ConceptMap", {canonical})
    found = tx.sources.concept_map(canonical)
    if found is None:
        raise NotFound(f"ConceptMap {canonical} is not known to this server")
    return [found]


async def _translate(request: Request, rid: str | None) -> Response:
    params = await op_params(request, "translate")
    coded = params.codings()[0]
    if coded.system is None:
        raise BadRequest("$translate needs the system of the code")
    reverse = params.flag("reverse")
    req = TranslateRequest(coded.system, coded.code, params.text("targetsystem"), params.text("target"), reverse)
    async with terminology_context(request) as tx:
        maps = await _maps(tx, params, rid, coded.system, reverse)
    return fhir_response(request, translate(maps, req))


@router.api_route("/ConceptMap/$translate", methods=["GET", "POST"])
async def translate_type(request: Request) -> Response:
    return await _translate(request, None)


@router.api_route("/ConceptMap/{resource_id}/$translate", methods=["GET", "POST"])
async def translate_instance(request: Request, resource_id: str) -> Response:
    return await _translate(request, resource_id)
