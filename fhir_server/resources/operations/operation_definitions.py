"""The official R4 OperationDefinitions of the operations this server implements, served at
``GET /fhir/OperationDefinition/[id]`` (http://hl7.org/fhir/R4/operationdefinition.html),
as vendored from hl7.fhir.r4.examples@4.0.1 (``definitions/r4/operation-definitions.json.gz``).
The CapabilityStatement references them by canonical.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ...definitions import definitions
from ...errors import NotFound
from ...render import fhir_response

__all__ = ["router", "SERVED"]

router = APIRouter()
SERVED = ("ValueSet-expand", "ValueSet-validate-code", "CodeSystem-lookup", "CodeSystem-validate-code",
          "CodeSystem-subsumes", "ConceptMap-translate")


def _route(operation_id: str) -> None:
    # Literal paths: they must win over the generic read of a stored OperationDefinition.
    @router.get(f"/OperationDefinition/{operation_id}", name=f"operation-definition-{operation_id}")
    async def serve(request: Request) -> Response:
        found = definitions().operation_definitions.get(operation_id)
        if found is None:
            raise NotFound(f"OperationDefinition/{operation_id} is not vendored")
        return fhir_response(request, found)


for _id in SERVED:
    _route(_id)
