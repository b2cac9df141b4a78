"""Stored versions and the version-aware HTTP headers (http://hl7.org/fhir/R4/http.html#versioning,
#concurrency): ``ETag: W/"n"``, ``Last-Modified``, ``Location`` with ``_history/n``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from ..errors import BadRequest

__all__ = ["Version", "parse_etag", "parse_http_date"]

_ETAG = re.compile(r'^\s*(?:W/)?"?([^"\s]+)"?\s*$')


@dataclass(frozen=True)
class Version:
    """One stored version of a resource; ``body`` holds the stored JSON bytes (None if deleted)."""

    resource_type: str
    id: str
    version_id: int
    last_updated: datetime
    deleted: bool
    body: bytes | None
    method: str | None = None

    @property
    def etag(self) -> str:
        return f'W/"{self.version_id}"'

    @property
    def last_modified(self) -> str:
        return format_datetime(self.last_updated.astimezone(UTC), usegmt=True)

    def location(self, base: str) -> str:
        return f"{base}/{self.resource_type}/{self.id}/_history/{self.version_id}"

    def headers(self, base: str | None = None) -> dict[str, str]:
        headers = {"ETag": self.etag, "Last-Modified": self.last_modified}
        if base is not None:
            headers["Location"] = self.location(base)
        return headers


def parse_etag(value: str) -> str:
    """``W/"3"`` -> ``3``; raise BadRequest for a value that is not an ETag."""
    match = _ETAG.match(value)
    if not match:
        raise BadRequest(f"Malformed ETag {value!r}: expected W/\"<versionId>\"")
    return match.group(1)


def parse_http_date(value: str) -> datetime:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"Malformed HTTP date {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
