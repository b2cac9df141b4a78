"""reference search parameters: http://hl7.org/fhir/R4/search.html#reference.

Index rows: (target_type, target_id) for local references ``Type/id`` (versions dropped),
``url`` for absolute URLs, URNs and canonicals (version kept apart), and the
Reference.identifier's system/value for ``:identifier``. Contained references (``#id``)
are not indexed (search.html#contained: contained resources are not searched by default).
Values: ``id``, ``Type/id``, an absolute URL (one of this server's is read as ``Type/id``),
``:[type]``, ``:identifier``. Chains and ``_has`` are assembled in ``query``.
"""

from __future__ import annotations

import re
from typing import Any

from ...errors import BadRequest
from ..extract import Node
from ..parse import split_escaped, unescape
from ..sqlfrag import Q, fmt, ident
from .common import MAX_INDEXED_CHARS, ValueContext

__all__ = ["TABLE", "COLUMNS", "MODIFIERS", "index_rows", "predicate", "split_local"]

TABLE = "search_reference"
COLUMNS = ("target_type", "target_id", "url", "version", "ident_system", "ident_value")
MODIFIERS = frozenset({"missing", "identifier", "type"})
_LOCAL = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")
_ABSOLUTE_TAIL = re.compile(r"^(.*)/([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


def split_local(ref: str) -> tuple[str, str] | None:
    m = _LOCAL.match(ref)
    return (m.group(1), m.group(2)) if m else None


def _reference(value: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    ref = value.get("reference")
    if isinstance(ref, str) and not ref.startswith("#"):
        local = split_local(ref)
        if local:
            rows.append((local[0], local[1], None, None, None, None))
        else:
            rows.append((value.get("type"), None, ref[:MAX_INDEXED_CHARS], None, None, None))
    identifier = value.get("identifier")
    if isinstance(identifier, dict) and identifier.get("value") is not None:
        rows.append((value.get("type"), None, None, None, identifier.get("system"),
                     str(identifier["value"])[:MAX_INDEXED_CHARS]))
    return rows


def _canonical(value: str) -> tuple[Any, ...]:
    local = split_local(value)
    if local:
        return (local[0], local[1], None, None, None, None)
    url, _, version = value.partition("|")
    return (None, None, url[:MAX_INDEXED_CHARS], version or None, None, None)


def index_rows(nodes: list[Node], root: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for value, _ in nodes:
        if isinstance(value, dict):
            rows.extend(_reference(value))
        elif isinstance(value, str) and value and not value.startswith("#"):
            rows.append(_canonical(value))
    return list(dict.fromkeys(rows))


def _local_of(raw: str, base: str | None) -> str:
    """An absolute URL of this server becomes ``Type/id``."""
    if base and raw.startswith(base.rstrip("/") + "/"):
        return raw[len(base.rstrip("/")) + 1:]
    return raw


def predicate(raw: str, modifier: str | None, alias: str, vc: ValueContext) -> Q:
    name, targets, base = vc.name, vc.targets, vc.base
    """One OR-value of a reference parameter over ``search_reference`` rows aliased ``alias``."""
    raw = unescape(raw)
    if not raw:
        raise BadRequest(f"{name}: empty reference value")
    if modifier == "identifier":
        parts = [unescape(p) for p in split_escaped(raw, "|")]
        if len(parts) == 1:
            return fmt("{} = {}", ident(alias, "ident_value"), parts[0])
        if len(parts) != 2:
            raise BadRequest(f"{name}:identifier={raw!r}: expected [system]|[value]")
        if not parts[1]:
            return fmt("{} = {}", ident(alias, "ident_system"), parts[0])
        return fmt("({} = {} AND {} IS NOT DISTINCT FROM {})", ident(alias, "ident_value"), parts[1],
                   ident(alias, "ident_system"), parts[0] or None)
    value = _local_of(raw, base)
    local = split_local(value)
    if local:
        if modifier and modifier != local[0]:
            raise BadRequest(f"{name}:{modifier}={raw!r}: the modifier and the reference name different types")
        if targets and local[0] not in targets:
            raise BadRequest(f"{name}={raw!r}: {local[0]} is not a target type of {name} ({', '.join(targets)})")
        return fmt("({} = {} AND {} = {})", ident(alias, "target_id"), local[1], ident(alias, "target_type"), local[0])
    if "/" in value or ":" in value:
        url, _, version = value.partition("|")
        if version:
            return fmt("({} = {} AND {} = {})", ident(alias, "url"), url, ident(alias, "version"), version)
        return fmt("{} = {}", ident(alias, "url"), url)
    if modifier:
        return fmt("({} = {} AND {} = {})", ident(alias, "target_id"), value, ident(alias, "target_type"), modifier)
    return fmt("{} = {}", ident(alias, "target_id"), value)
