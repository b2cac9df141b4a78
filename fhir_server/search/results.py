"""The searchset Bundle: http://hl7.org/fhir/R4/search.html#return, bundle.html#searchset.

Built by splicing the stored JSON text of each resource into the Bundle (no parse and
re-serialize on the hot path); only ``_summary``/``_elements`` parse the resources they
reshape. ``Bundle.link[self]`` lists the parameters actually applied (unknown ones left
out and reported in an OperationOutcome entry with ``search.mode = outcome``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson

from ..errors import Issue, operation_outcome
from ..fhir.summary import apply_elements, apply_summary
from ..jsonio import dumps, parse_json
from .service import Row, SearchResult

__all__ = ["bundle_bytes", "self_items"]


def self_items(result: SearchResult) -> list[tuple[str, str]]:
    """The applied parameters, in request order, plus result parameters and _count."""
    items = [(p.name, p.raw) for p in result.applied.params]
    items += [(name, value) for name, value in result.request.control if name != "_count"]
    items.append(("_count", str(result.count)))
    return items


def _link(relation: str, url: str) -> bytes:
    return orjson.dumps({"relation": relation, "url": url})


def _links(result: SearchResult, path_url: str) -> list[bytes]:
    items = self_items(result)
    query = urlencode(items)
    links = [_link("self", f"{path_url}?{query}")]
    if result.next_cursor or result.prev_cursor:
        links.append(_link("first", f"{path_url}?{query}"))
    if result.prev_cursor:
        links.append(_link("previous", f"{path_url}?{urlencode([*items, ('_cursor', result.prev_cursor)])}"))
    if result.next_cursor:
        links.append(_link("next", f"{path_url}?{urlencode([*items, ('_cursor', result.next_cursor)])}"))
    return links


def _content(row: Row, result: SearchResult, match: bool) -> bytes:
    summary, elements = result.request.summary, result.request.elements
    if (summary in (None, "false") and not elements) or (not match and not summary):
        return row[2].encode()
    resource = parse_json(row[2].encode(), max_depth=None)  # keeps decimal precision
    if summary not in (None, "false"):
        resource = apply_summary(resource, summary)
    if elements and match:
        resource = apply_elements(resource, elements)
    return dumps(resource)


def _entry(base: str, row: Row, mode: bytes, content: bytes) -> bytes:
    full_url = orjson.dumps(f"{base}/{row[0]}/{row[1]}")
    return b'{"fullUrl":' + full_url + b',"resource":' + content + b',"search":{"mode":"' + mode + b'"}}'


def _outcome_entry(result: SearchResult) -> bytes | None:
    if not result.applied.unknown:
        return None
    issues = [Issue("warning", "not-supported", f"Parameter {p.name} was ignored: {message}", (p.name,))
              for p, message in result.applied.unknown]
    outcome = orjson.dumps(operation_outcome(issues))
    return b'{"resource":' + outcome + b',"search":{"mode":"outcome"}}'


def bundle_bytes(result: SearchResult, base: str, path_url: str) -> bytes:
    """The searchset Bundle as JSON bytes; ``path_url`` is the absolute search URL without query."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    head: dict[str, Any] = {"resourceType": "Bundle", "id": str(uuid.uuid4()), "meta": {"lastUpdated": now},
                            "type": "searchset"}
    if result.total is not None:
        head["total"] = result.total
    entries = []
    if result.request.summary != "count":
        entries = [_entry(base, row, b"match", _content(row, result, True)) for row in result.matches]
        entries += [_entry(base, row, b"include", _content(row, result, False)) for row in result.included]
    outcome = _outcome_entry(result)
    if outcome is not None:
        entries.append(outcome)
    out = orjson.dumps(head)[:-1] + b',"link":[' + b",".join(_links(result, path_url)) + b"]"
    if entries:
        out += b',"entry":[' + b",".join(entries) + b"]"
    return out + b"}"
