"""``_summary`` and ``_elements``: subsets of a resource (http://hl7.org/fhir/R4/search.html#summary,
#elements). Subsetted results carry the SUBSETTED tag in ``meta.tag`` as the spec asks."""

from __future__ import annotations

from functools import cache
from typing import Any

from ..definitions import definitions
from ..errors import BadRequest

__all__ = ["apply_summary", "apply_elements", "SUMMARY_MODES", "SUBSETTED"]

SUMMARY_MODES = ("true", "text", "data", "count", "false")
SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}
ALWAYS_KEPT = frozenset({"resourceType", "id", "meta"})


@cache
def _element_table(resource_type: str) -> dict[str, tuple[bool, int]]:
    """Element path -> (isSummary, min) for a resource type's base definition."""
    sd = definitions().types.get(resource_type)
    if sd is None:
        return {}
    return {e["path"]: (bool(e.get("isSummary")), int(e.get("min", 0))) for e in sd["snapshot"]["element"]}


def _path_of(parent: str, key: str, table: dict[str, tuple[bool, int]]) -> str | None:
    name = key[1:] if key.startswith("_") else key
    if f"{parent}.{name}" in table:
        return f"{parent}.{name}"
    for path in table:  # choice types: valueQuantity -> value[x]
        if path.endswith("[x]") and path.startswith(parent + ".") and path.count(".") == parent.count(".") + 1:
            stem = path[len(parent) + 1:-3]
            if name.startswith(stem) and name[len(stem):len(stem) + 1].isupper():
                return path
    return None


def _summary_subset(node: dict[str, Any], parent: str, table: dict[str, tuple[bool, int]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ALWAYS_KEPT or key == "resourceType":
            out[key] = value
            continue
        path = _path_of(parent, key, table)
        if path is None or not table[path][0]:
            continue
        has_children = any(p.startswith(path + ".") for p in table)
        if has_children and isinstance(value, dict):
            out[key] = _summary_subset(value, path, table)
        elif has_children and isinstance(value, list):
            out[key] = [_summary_subset(v, path, table) if isinstance(v, dict) else v for v in value]
        else:
            out[key] = value
    return out


def _mark_subsetted(resource: dict[str, Any]) -> dict[str, Any]:
    meta = dict(resource.get("meta") or {})
    tags = [t for t in meta.get("tag", []) if t.get("code") != "SUBSETTED"]
    meta["tag"] = [*tags, SUBSETTED]
    return {**resource, "meta": meta}


def _mandatory_top_level(resource_type: str) -> set[str]:
    table = _element_table(resource_type)
    prefix = resource_type + "."
    return {p[len(prefix):].removesuffix("[x]") for p, (_, mn) in table.items()
            if p.startswith(prefix) and p.count(".") == 1 and mn > 0}


def apply_summary(resource: dict[str, Any], mode: str) -> dict[str, Any]:
    if mode not in SUMMARY_MODES:
        raise BadRequest(f"_summary={mode} is not valid: use one of {', '.join(SUMMARY_MODES)}")
    if mode in ("false", "count"):
        return resource
    rtype = resource.get("resourceType", "")
    if mode == "data":
        return _mark_subsetted({k: v for k, v in resource.items() if k != "text"})
    if mode == "text":
        keep = ALWAYS_KEPT | {"text"} | _mandatory_top_level(rtype)
        return _mark_subsetted({k: v for k, v in resource.items() if _top_name(k) in keep})
    return _mark_subsetted(_summary_subset(resource, rtype, _element_table(rtype)))


def _top_name(key: str) -> str:
    return key[1:] if key.startswith("_") else key


def _matches(key: str, wanted: set[str]) -> bool:
    name = _top_name(key)
    if name in wanted:
        return True
    return any(name.startswith(w) and name[len(w):len(w) + 1].isupper() for w in wanted)


def apply_elements(resource: dict[str, Any], elements: list[str]) -> dict[str, Any]:
    """Keep the named top-level elements plus id, meta and mandatory elements."""
    wanted = {e.strip().split(".")[-1] if "." in e and e.split(".")[0][:1].isupper() else e.strip()
              for e in elements if e.strip()}
    wanted |= _mandatory_top_level(resource.get("resourceType", ""))
    kept = {k: v for k, v in resource.items() if k in ALWAYS_KEPT or _matches(k, wanted)}
    return _mark_subsetted(kept)
