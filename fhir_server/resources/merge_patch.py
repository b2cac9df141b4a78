"""JSON Merge Patch (RFC 7386, https://www.rfc-editor.org/rfc/rfc7386) for the patch interaction
(http://hl7.org/fhir/R4/http.html#patch).

The body is a partial resource: each member replaces the element of the same name, objects
merge recursively, arrays are replaced whole and ``null`` removes. This is what fhirpy's
``patch()`` and ``save(fields=...)`` send (``Content-Type: application/json``). A pure function;
the input is never mutated. ``resourceType`` and ``id`` cannot change (400, as an update whose
body disagrees with its URL): a body may repeat them, never alter or remove them.
"""

from __future__ import annotations

from typing import Any

from .patch import PatchError

__all__ = ["apply_merge_patch"]


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merge(merged.get(key), value)
    return merged


def _check_identity(resource: dict[str, Any], document: dict[str, Any]) -> None:
    rtype = resource.get("resourceType")
    for key in ("resourceType", "id"):
        if key in document and document[key] != resource.get(key):
            raise PatchError(f"A merge patch may not change the {key} of a resource ({resource.get(key)!r} "
                             f"would become {document[key]!r})", 400, "invalid", [f"{rtype}.{key}"])


def apply_merge_patch(resource: dict[str, Any], document: object) -> dict[str, Any]:
    """``resource`` with the RFC 7386 ``document`` (a JSON object) merged in."""
    if not isinstance(document, dict):
        raise PatchError("A JSON Merge Patch body must be a JSON object (a partial resource)", 400, "invalid")
    _check_identity(resource, document)
    merged: dict[str, Any] = _merge(resource, document)
    return merged
