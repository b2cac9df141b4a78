"""Which patch format a PATCH body is (http://hl7.org/fhir/R4/http.html#patch), decided once for
single requests and bundle entries alike. Only the format: how the base version is read and
locked is the interaction's business (``interactions.patch``).

- ``application/json-patch+json``: JSON Patch (RFC 6902), a JSON array of operations;
- ``application/merge-patch+json``: JSON Merge Patch (RFC 7386), a partial resource;
- ``application/fhir+json`` / ``application/json`` (or no Content-Type): a ``Parameters``
  resource is FHIRPath Patch, any other JSON object a merge patch (fhirpy sends those), an
  array is refused with a pointer to the JSON Patch media type.
"""

from __future__ import annotations

from typing import Any

from ..errors import BadRequest
from .interactions import Patcher
from .merge_patch import apply_merge_patch
from .patch import apply_fhirpath_patch, apply_json_patch

__all__ = ["JSON_PATCH", "MERGE_PATCH", "PATCH_MEDIA_TYPES", "patcher_for"]

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
PATCH_MEDIA_TYPES = (JSON_PATCH, MERGE_PATCH)


def patcher_for(media: str, document: Any, where: str = "PATCH body") -> Patcher:
    """The function mapping the current resource to the patched one, for a body of ``media``."""
    if media == JSON_PATCH:
        return lambda resource: apply_json_patch(resource, document)
    if media == MERGE_PATCH:
        return lambda resource: apply_merge_patch(resource, document)
    if isinstance(document, dict) and document.get("resourceType") == "Parameters":
        return lambda resource: apply_fhirpath_patch(resource, document)
    if isinstance(document, dict):
        return lambda resource: apply_merge_patch(resource, document)
    raise BadRequest(f"{where} must be a JSON Patch array (application/json-patch+json), a FHIRPath Patch "
                     "Parameters resource or a partial resource (JSON Merge Patch, application/merge-patch+json)")
