"""Resource interactions as one call each: the routes' only collaborator.

Checks the request against the spec rules (type and id agreement, validation), opens one
transaction through ``Database.transaction()`` and calls the repository primitives.
http://hl7.org/fhir/R4/http.html
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..db import Database
from ..definitions import definitions
from ..errors import BadRequest, FhirError, Issue, NotFound, Unprocessable
from ..jsonio import parse_json
from . import conditional, repository
from .repository import Indexer
from .validation import validate_resource
from .versions import Version

__all__ = ["ResourceService", "WriteOutcome", "check_type", "check_id"]

ID_PATTERN = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
# Issue codes that mean the body is malformed (400) rather than unprocessable (422).
MALFORMED_CODES = frozenset({"structure", "value", "invalid", "too-long"})


@dataclass(frozen=True)
class WriteOutcome:
    version: Version
    created: bool
    issues: tuple[Issue, ...] = ()


def check_type(rtype: str) -> str:
    if rtype not in definitions().resource_types:
        raise NotFound(f"Unknown resource type '{rtype}': not a FHIR R4 resource type")
    return rtype


def check_id(rid: str) -> str:
    if not ID_PATTERN.match(rid):
        raise BadRequest(f"Invalid id '{rid[:80]}': ids match [A-Za-z0-9\\-\\.]{{1,64}}")
    return rid


def check_body(rtype: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object holding a FHIR resource")
    found = body.get("resourceType")
    if found != rtype:
        raise BadRequest(f"Body resourceType '{found}' does not match the URL type '{rtype}'")
    return body


def validate_or_raise(resource: dict[str, Any]) -> tuple[Issue, ...]:
    """Run R4 validation; raise 400/422 on errors, return the warnings otherwise."""
    issues = validate_resource(resource)
    errors = [i for i in issues if i.severity in ("error", "fatal")]
    if errors:
        malformed = any(i.code in MALFORMED_CODES for i in errors)
        message = f"{resource.get('resourceType')} failed validation: {errors[0].diagnostics}"
        error: FhirError = BadRequest(message, issues) if malformed else Unprocessable(message, issues)
        raise error
    return tuple(issues)


class ResourceService:
    def __init__(self, db: Database, indexer: Indexer) -> None:
        self.db = db
        self.indexer = indexer

    async def read(self, rtype: str, rid: str) -> Version:
        async with self.db.connection() as conn:
            return await repository.read(conn, check_type(rtype), rid)

    async def vread(self, rtype: str, rid: str, vid: str) -> Version:
        async with self.db.connection() as conn:
            return await repository.vread(conn, check_type(rtype), rid, vid)

    async def create(self, rtype: str, body: Any, if_none_exist: str | None = None) -> WriteOutcome:
        resource = check_body(check_type(rtype), body)
        warnings = validate_or_raise(resource)
        async with self.db.transaction() as conn:
            if if_none_exist is not None:
                existing = await conditional.match_for_create(conn, rtype, if_none_exist)
                if existing is not None:
                    return WriteOutcome(await repository.read(conn, rtype, existing), False)
            return WriteOutcome(await repository.create(conn, self.indexer, resource), True, warnings)

    async def update(self, rtype: str, rid: str, body: Any, if_match: str | None = None) -> WriteOutcome:
        resource = check_body(check_type(rtype), body)
        if "id" not in resource:
            raise BadRequest("Update body has no id: it must carry the id given in the URL")
        if resource["id"] != rid:
            raise BadRequest(f"Body id '{resource['id']}' does not match the URL id '{rid}'")
        check_id(rid)
        warnings = validate_or_raise(resource)
        async with self.db.transaction() as conn:
            version, created = await repository.update(conn, self.indexer, resource, rid, if_match)
        return WriteOutcome(version, created, warnings)

    async def conditional_update(self, rtype: str, query: list[tuple[str, str]], body: Any,
                                 if_match: str | None = None) -> WriteOutcome:
        resource = check_body(check_type(rtype), body)
        warnings = validate_or_raise(resource)
        async with self.db.transaction() as conn:
            rid = await conditional.target_for_update(conn, rtype, query, resource.get("id"))
            version, created = await repository.update(
                conn, self.indexer, {**resource, "id": rid}, rid, if_match)
        return WriteOutcome(version, created, warnings)

    async def patch(self, rtype: str, rid: str | None, query: list[tuple[str, str]] | None,
                    apply: Callable[[dict[str, Any]], dict[str, Any]],
                    if_match: str | None = None) -> WriteOutcome:
        """Patch by id or by search (conditional patch); ``apply`` maps old content to new."""
        check_type(rtype)
        async with self.db.transaction() as conn:
            if rid is None:
                rid = await conditional.single_match(conn, rtype, query or [])
            current = await repository.read(conn, rtype, rid)
            assert current.body is not None
            patched = apply(_parse_stored(current.body))
            check_body(rtype, patched)
            if patched.get("id") != rid:
                raise Unprocessable("A patch may not change the resource id")
            warnings = validate_or_raise(patched)
            version, _ = await repository.update(conn, self.indexer, patched, rid, if_match, "PATCH")
        return WriteOutcome(version, False, warnings)

    async def delete(self, rtype: str, rid: str, if_match: str | None = None) -> Version | None:
        async with self.db.transaction() as conn:
            return await repository.delete(conn, self.indexer, check_type(rtype), rid, if_match)

    async def conditional_delete(self, rtype: str, query: list[tuple[str, str]],
                                 max_matches: int) -> list[Version]:
        async with self.db.transaction() as conn:
            ids = await conditional.matches_for_delete(conn, check_type(rtype), query, max_matches)
            deleted = [await repository.delete(conn, self.indexer, rtype, rid) for rid in ids]
        return [v for v in deleted if v is not None]


def _parse_stored(body: bytes) -> dict[str, Any]:
    value = parse_json(body, max_depth=10_000)
    assert isinstance(value, dict)
    return value
