"""Reference resolution inside a transaction (http://hl7.org/fhir/R4/http.html#trules).

Every ``Reference.reference`` that names an entry's ``fullUrl`` (``urn:uuid:``, ``urn:oid:``
or an absolute URL) is rewritten to the ``Type/id`` the server gave that entry; conditional
references (``Patient?identifier=sys|val``) are resolved by search inside the same
transaction: no match is a 404 failure, several are a 412. References are found wherever
they sit: nested elements, extensions (``valueReference``) and contained resources.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
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
    """All Reference.reference strings in a resource; with ``holders``, also the objects that
    carry them, for ``rewrite_references``. Recursive (2-3x faster than a stack here): parsed
    JSON nests at most as deep as the parsers allow, request bodies far less (``max_json_depth``)."""
    kept = holders if holders is not None else []

    def walk(item: dict[str, Any] | list[Any]) -> None:
        children: Iterable[Any] = item
        if type(item) is dict:
            ref = item.get("reference")
            if type(ref) is str:
                found.add(ref)
                kept.append(item)
            children = item.values()
        for child in children:
            kind = type(child)
            if kind is dict or kind is list:
                walk(child)

    if isinstance(node, dict | list):
        walk(node)


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
