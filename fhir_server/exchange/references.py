"""Reference resolution inside a transaction (http://hl7.org/fhir/R4/http.html#trules).

Every ``Reference.reference`` that names an entry's ``fullUrl`` (``urn:uuid:``, ``urn:oid:``
or an absolute URL) is rewritten to the ``Type/id`` the server gave that entry; conditional
references (``Patient?identifier=sys|val``) are resolved by search inside the same
transaction: no match is a 404 failure, several are a 412. References are found wherever
they sit: nested elements, extensions (``valueReference``) and contained resources.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from ..definitions import definitions
from ..errors import NotFound, PreconditionFailed

__all__ = ["collect_references", "rewrite_references", "conditional_reference", "resolve_conditionals"]

Resolver = Callable[[str, list[tuple[str, str]]], Awaitable[list[str]]]


def conditional_reference(value: str) -> tuple[str, list[tuple[str, str]]] | None:
    """``Patient?identifier=x`` -> ("Patient", [("identifier", "x")]); None for other references."""
    head, sep, query = value.partition("?")
    if not sep or head not in definitions().resource_types:
        return None
    return head, parse_qsl(query, keep_blank_values=True)


def collect_references(node: Any, found: set[str], holders: list[dict[str, Any]] | None = None) -> None:
    """All Reference.reference strings in a resource (iteratively: resources may be deep); with
    ``holders``, also the objects that carry them, for ``rewrite_references``."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("reference")
            if isinstance(ref, str):
                found.add(ref)
                if holders is not None:
                    holders.append(item)
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, dict | list))


def rewrite_references(holders: list[dict[str, Any]], mapping: dict[str, str]) -> None:
    """Replace, in place, each mapped ``reference`` of the objects ``collect_references`` found
    (the resources belong to the request being processed: no copy is needed)."""
    for holder in holders:
        target = mapping.get(holder["reference"])
        if target is not None:
            holder["reference"] = target


async def resolve_conditionals(references: set[str], resolve: Resolver) -> dict[str, str]:
    """Map each conditional reference to its single match."""
    mapping: dict[str, str] = {}
    for ref in sorted(references):
        parsed = conditional_reference(ref)
        if parsed is None:
            continue
        rtype, params = parsed
        ids = await resolve(rtype, params)
        if not ids:
            raise NotFound(f"Conditional reference {ref} matches no resource")
        if len(ids) > 1:
            raise PreconditionFailed(f"Conditional reference {ref} matches more than one resource")
        mapping[ref] = f"{rtype}/{ids[0]}"
    return mapping
