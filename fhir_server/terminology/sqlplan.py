"""Value sets over code systems held in PostgreSQL, for search ``:in``/``:not-in``
(http://hl7.org/fhir/R4/search.html#token): instead of expanding a large system in Python, a
value set whose includes are enumerated concepts, in-memory systems, or whole / ``is-a`` /
``descendent-of`` / ``code =`` parts of a loaded system becomes a plan that search turns into
SQL over ``terminology_concept``. Anything else (imports, other filters) has no plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import FhirError
from .expansion import Expander
from .sources import Sources
from .store import is_loaded

__all__ = ["Part", "value_set_plan"]


@dataclass(frozen=True)
class Part:
    """Codes of one system: listed (``codes``), or a loaded system's codes at/below ``root``."""

    system: str
    codes: tuple[str, ...] | None = None
    root: str | None = None  # with codes None: the whole system when root is None
    include_root: bool = True


def _part(component: dict[str, Any]) -> list[Part] | None:
    system = component.get("system")
    if not isinstance(system, str) or component.get("valueSet"):
        return None
    if not is_loaded(system) or "concept" in component:
        try:
            found = Expander(Sources()).expand({"resourceType": "ValueSet", "compose": {"include": [component]}})
        except FhirError:
            return None
        return [Part(system, tuple(c.code for c in found))]
    filters = component.get("filter") or []
    if not filters:
        return [Part(system)]
    if len(filters) != 1 or filters[0].get("property") not in ("concept", "code"):
        return None
    op, value = filters[0].get("op"), filters[0].get("value")
    if not isinstance(value, str) or op not in ("is-a", "descendent-of", "="):
        return None
    return [Part(system, (value,))] if op == "=" else [Part(system, None, value, op == "is-a")]


def value_set_plan(value_set: dict[str, Any] | None) -> tuple[list[Part], list[Part]] | None:
    """(included parts, excluded parts), or None when the value set needs the full engine."""
    compose = value_set.get("compose") if isinstance(value_set, dict) else None
    if not isinstance(compose, dict):
        return None
    out: tuple[list[Part], list[Part]] = ([], [])
    for key, parts in (("include", out[0]), ("exclude", out[1])):
        for component in compose.get(key) or []:
            part = _part(component) if isinstance(component, dict) else None
            if part is None:
                return None
            parts.extend(part)
    return out
