"""ConceptMap/$translate (http://hl7.org/fhir/R4/conceptmap-operation-translate.html) over the
R4 ConceptMap shape (conceptmap.html): ``group`` by source/target system, ``element`` by
source code, ``target`` with its ``equivalence``; ``unmapped`` mode ``provided`` (the same
code) or ``fixed`` (one code) when no element matches; ``reverse`` maps target to source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .outputs import parameters, part

__all__ = ["TranslateRequest", "translate"]

NO_MATCH = frozenset({"unmatched", "disjoint"})


@dataclass(frozen=True)
class TranslateRequest:
    system: str
    code: str
    target_system: str | None = None
    target: str | None = None  # a target value set (the map's targetUri/targetCanonical)
    reverse: bool = False


def _coding(system: str | None, version: str | None, code: str | None, display: str | None) -> dict[str, Any]:
    return {k: v for k, v in (("system", system), ("version", version), ("code", code), ("display", display)) if v}


def _group_matches(cmap: dict[str, Any], group: dict[str, Any], req: TranslateRequest) -> list[dict[str, Any]]:
    source, target = (group.get("target"), group.get("source")) if req.reverse else (group.get("source"),
                                                                                      group.get("target"))
    if source not in (None, req.system) or req.target_system not in (None, target):
        return []
    found = []
    for element in group.get("element") or []:
        for item in element.get("target") or []:
            src, dst = (item, element) if req.reverse else (element, item)
            if src.get("code") != req.code:
                continue
            equivalence = item.get("equivalence", "equivalent")
            if req.reverse and equivalence in ("wider", "subsumes", "narrower", "specializes"):
                equivalence = {"wider": "narrower", "narrower": "wider", "subsumes": "specializes",
                               "specializes": "subsumes"}[equivalence]
            found.append(_match(equivalence, _coding(target, None, dst.get("code"), dst.get("display")), cmap))
    if not found and not req.reverse and (unmapped := group.get("unmapped")):
        mode = unmapped.get("mode")
        if mode == "provided":
            found.append(_match("equal", _coding(target, None, req.code, None), cmap))
        elif mode == "fixed" and unmapped.get("code"):
            found.append(_match("equivalent", _coding(target, None, unmapped["code"], unmapped.get("display")), cmap))
    return found


def _match(equivalence: str, coding: dict[str, Any], cmap: dict[str, Any]) -> dict[str, Any]:
    parts = [part("equivalence", "valueCode", equivalence)]
    if equivalence not in NO_MATCH and coding.get("code"):
        parts.append(part("concept", "valueCoding", coding))
    if cmap.get("url"):
        parts.append(part("source", "valueUri", cmap["url"]))
    return {"name": "match", "part": parts}


def _targets(cmap: dict[str, Any]) -> str | None:
    return cmap.get("targetUri") or cmap.get("targetCanonical")


def translate(maps: list[dict[str, Any]], req: TranslateRequest) -> dict[str, Any]:
    matches = []
    for cmap in maps:
        if req.target and not req.reverse and _targets(cmap) not in (None, req.target):
            continue
        for group in cmap.get("group") or []:
            matches += _group_matches(cmap, group, req)
    good = [m for m in matches if m["part"][0]["valueCode"] not in NO_MATCH]
    out = [part("result", "valueBoolean", bool(good))]
    if not good:
        out.append(part("message", "valueString", f"No mapping found for '{req.system}|{req.code}'"))
    return parameters(out + matches)
