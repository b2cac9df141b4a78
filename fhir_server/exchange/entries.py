"""Bundle entries of a batch or transaction, parsed into requests (http://hl7.org/fhir/R4/http.html#transaction).

``request.url`` is relative to the base (``Patient``, ``Patient/1``, ``Patient?identifier=x``,
``Patient/1/_history/2``) or an absolute URL of this server; anything else is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from ..definitions import definitions
from ..errors import BadRequest, PayloadTooLarge

__all__ = ["EntryRequest", "parse_entries", "METHOD_ORDER"]

FORMAT_PARAMS = ("_format", "_pretty")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
# Transactions run deletes, then creates, then updates and patches, then reads (http.html#trules).
METHOD_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}


@dataclass
class EntryRequest:
    index: int
    method: str
    url: str
    resource_type: str | None
    resource_id: str | None
    version_id: str | None
    operation: str | None  # "_history", "_search" or "$name" path segments
    query: list[tuple[str, str]]
    resource: Any
    full_url: str | None
    if_none_exist: str | None = None
    if_match: str | None = None
    if_none_match: str | None = None
    if_modified_since: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"entry {self.index} ({self.method} {self.url})"


def _relative(url: str, base: str) -> str:
    if url.startswith(base + "/"):
        return url[len(base) + 1:]
    if "://" in url:
        raise BadRequest(f"Entry URL {url} is not on this server ({base})")
    return url.lstrip("/")


def _split_path(path: str) -> tuple[str | None, str | None, str | None, str | None]:
    """(type, id, version, operation) from ``Type[/id[/_history[/vid]]]`` and friends."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return None, None, None, None
    rtype = parts[0]
    if rtype.startswith(("_", "$")):
        return None, None, None, rtype
    if rtype not in definitions().resource_types:
        raise BadRequest(f"Unknown resource type '{rtype}' in entry URL {path}")
    rid = parts[1] if len(parts) > 1 and not parts[1].startswith(("_", "$")) else None
    rest = parts[2:] if rid else parts[1:]
    operation = rest[0] if rest else None
    version = rest[1] if operation == "_history" and len(rest) > 1 else None
    return rtype, rid, version, operation


def _check_unused(index: int, method: str, rid: str | None, operation: str | None, version: str | None,
                  query: list[tuple[str, str]]) -> None:
    """An entry's URL parameters that its interaction would not use are refused, never ignored:
    a POST's criteria belong in ``request.ifNoneExist``; reads and writes by id take none (an entry's
    read does not apply ``_summary``/``_elements`` either)."""
    if method in ("GET", "HEAD"):
        if rid is None or (operation is not None and not (operation == "_history" and version)):
            return  # searches and history use their parameters
    elif (method != "POST" and rid is None) or operation is not None:
        return  # conditional update, patch or delete (the parameters are the criteria), operations
    unused = sorted({k for k, _ in query if k not in FORMAT_PARAMS})
    if unused:
        hint = ": put a conditional create's criteria in request.ifNoneExist" if method == "POST" else ""
        raise BadRequest(f"Bundle.entry[{index}].request.url: {method} does not take the parameter(s) "
                         f"{', '.join(unused)}{hint}")


def _parse_entry(index: int, entry: Any, base: str) -> EntryRequest:
    if not isinstance(entry, dict) or not isinstance(entry.get("request"), dict):
        raise BadRequest(f"Bundle.entry[{index}] has no request: every batch/transaction entry needs one")
    request = entry["request"]
    method = str(request.get("method", "")).upper()
    if method not in METHODS:
        raise BadRequest(f"Bundle.entry[{index}].request.method '{request.get('method')}' is not a FHIR method")
    raw_url = request.get("url")
    if not isinstance(raw_url, str) or not raw_url:
        raise BadRequest(f"Bundle.entry[{index}].request.url is missing")
    url = _relative(raw_url, base)
    path, _, query = url.partition("?")
    rtype, rid, vid, operation = _split_path(path)
    query_items = parse_qsl(query, keep_blank_values=True)
    _check_unused(index, method, rid, operation, vid, query_items)
    return EntryRequest(
        index=index, method=method, url=url, resource_type=rtype, resource_id=rid, version_id=vid,
        operation=operation, query=query_items, resource=entry.get("resource"),
        full_url=entry.get("fullUrl"), if_none_exist=request.get("ifNoneExist"), if_match=request.get("ifMatch"),
        if_none_match=request.get("ifNoneMatch"), if_modified_since=request.get("ifModifiedSince"))


def parse_entries(bundle: Any, base: str, max_entries: int) -> tuple[str, list[EntryRequest]]:
    """(bundle type, entries); BadRequest for anything that is not a batch or transaction."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise BadRequest("POST to the base URL takes a Bundle of type batch or transaction")
    kind = bundle.get("type")
    if kind not in ("batch", "transaction"):
        raise BadRequest(f"Bundle type '{kind}' cannot be processed here: use batch or transaction "
                         "(store other bundles with POST [base]/Bundle)")
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise BadRequest("Bundle.entry must be an array")
    if len(entries) > max_entries:
        raise PayloadTooLarge(f"Bundle has {len(entries)} entries; this server accepts at most {max_entries}")
    return kind, [_parse_entry(i, e, base) for i, e in enumerate(entries)]
