"""Bundle rules beyond its invariants (http://hl7.org/fhir/R4/bundle.html#bundle-unique,
#references, #document): each ``fullUrl`` is absolute and agrees with its resource's id; at
most one ``self`` link; a reference inside the bundle never matches more than one entry; in a
document, every reference between its resources resolves to an entry of the document.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ...errors import Issue

__all__ = ["bundle_issues"]

_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_RELATIVE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(/_history/[A-Za-z0-9\-.]{1,64})?$")


def _references(node: Any, location: str) -> Iterator[tuple[str, str]]:
    """(reference, location) of every Reference.reference below ``node``, contained resources excluded."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value, f"{location}.reference"
            elif key != "contained":
                yield from _references(value, f"{location}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _references(item, f"{location}[{index}]")


_RESTFUL = re.compile(r"^(https?://.+)/[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$")


def _matches(reference: str, own_url: str, full_urls: list[str]) -> list[int]:
    """Entries a reference points at (bundle.html#references): an absolute one by the whole fullUrl;
    a relative Type/id against the base of the referring entry's RESTful fullUrl, or by its tail
    when the referring entry has none (a urn:uuid: entry)."""
    relative = _RELATIVE.match(reference)
    if relative is None:
        return [i for i, url in enumerate(full_urls) if url == reference]
    base = _RESTFUL.match(own_url)
    target = f"{relative[1]}/{relative[2]}"
    if base is not None:
        return [i for i, url in enumerate(full_urls) if url == f"{base[1]}/{target}"]
    return [i for i, url in enumerate(full_urls) if url.endswith(f"/{target}")]


def _full_url_issues(entries: list[Any], location: str) -> Iterator[Issue]:
    for index, entry in enumerate(entries):
        url = entry.get("fullUrl") if isinstance(entry, dict) else None
        if not isinstance(url, str):
            continue
        here = f"{location}.entry[{index}].fullUrl"
        if not _ABSOLUTE.match(url):
            yield Issue("error", "invalid", f"fullUrl {url[:80]!r} must be an absolute URL (or urn:uuid:/urn:oid:)",
                        (here,))
            continue
        resource = entry.get("resource")
        rid = resource.get("id") if isinstance(resource, dict) else None
        tail = re.search(r"/([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$", url)
        disagrees = tail is not None and isinstance(resource, dict) and (
            tail[1] != resource.get("resourceType") or rid not in (None, tail[2]))
        if disagrees and isinstance(resource, dict):
            yield Issue("warning", "invalid", f"fullUrl {url} does not agree with the entry's resource "
                        f"({resource.get('resourceType')}/{rid})", (here,))


def bundle_issues(bundle: dict[str, Any], location: str) -> list[Issue]:
    issues: list[Issue] = []
    links = [link for link in bundle.get("link") or () if isinstance(link, dict) and link.get("relation") == "self"]
    if len(links) > 1:
        issues.append(Issue("error", "invalid", f"A Bundle has at most one 'self' link ({len(links)} found)",
                            (f"{location}.link",)))
    entries = [e for e in bundle.get("entry") or () if isinstance(e, dict)]
    issues.extend(_full_url_issues(entries, location))
    full_urls: list[str] = [url if isinstance(url := e.get("fullUrl"), str) else "" for e in entries]
    is_document = bundle.get("type") == "document"
    for index, entry in enumerate(entries):
        for reference, where in _references(entry.get("resource"), f"{location}.entry[{index}].resource"):
            if reference.startswith("#"):
                continue
            found = _matches(reference, full_urls[index], full_urls)
            if len(found) > 1 and len({full_urls[i] for i in found}) > 1:
                issues.append(Issue("error", "invalid", f"Reference {reference} matches more than one entry "
                                    f"({', '.join(full_urls[i] for i in found[:3])})", (where,)))
            elif not found and is_document:
                issues.append(Issue("error", "invalid", f"Reference {reference} does not resolve to an entry of "
                                    "the document: a document carries every resource it refers to", (where,)))
    return issues
