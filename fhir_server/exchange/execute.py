"""One batch/transaction entry, executed on the caller's connection with the same interaction
code as a single request (http://hl7.org/fhir/R4/http.html#transaction, bundle.html#transaction-response)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from psycopg import AsyncConnection

from ..errors import BadRequest, FhirError, NotSupported
from ..jsonio import parse_json
from ..render import FHIR_JSON
from ..resources import interactions, patch_formats, repository
from ..resources.interactions import Patcher
from ..resources.versions import Version, parse_etag, parse_http_date
from ..rules import create_needs_rules
from .entries import EntryRequest

if TYPE_CHECKING:
    from .bundle import BundleContext

__all__ = ["EntryResult", "EntryError", "execute_entry", "execute_creates", "bulk_creatable", "reason_phrase"]


@dataclass(frozen=True)
class EntryResult:
    status: str
    location: str | None = None
    etag: str | None = None
    last_modified: datetime | None = None
    resource: bytes | None = None
    outcome: dict[str, Any] | None = None


def reason_phrase(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"


def _written(version: Version, status: int) -> EntryResult:
    location = f"{version.resource_type}/{version.id}/_history/{version.version_id}"
    return EntryResult(reason_phrase(status), location, version.etag, version.last_updated, version.body)


def _patcher(entry: EntryRequest) -> Patcher:
    """A PATCH entry carries a Parameters (FHIRPath Patch) or, for the other formats, a Binary
    whose contentType names the format and whose data is the patch document (http.html#patch)."""
    body = entry.resource
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        return patch_formats.patcher_for(FHIR_JSON, body, f"{entry.label}: the patch")
    if isinstance(body, dict) and body.get("resourceType") == "Binary":
        media = str(body.get("contentType", "")).split(";")[0].strip().lower()
        if media in (*patch_formats.PATCH_MEDIA_TYPES, FHIR_JSON, "application/json"):
            try:
                document = parse_json(base64.b64decode(body.get("data", ""), validate=True))
            except ValueError as exc:
                raise BadRequest(f"{entry.label}: Binary.data is not base64 JSON") from exc
            return patch_formats.patcher_for(media, document, f"{entry.label}: the patch")
    raise BadRequest(f"{entry.label}: PATCH entries carry a Parameters (FHIRPath Patch) or a Binary with "
                     "contentType application/json-patch+json or application/merge-patch+json")


def _if_match(entry: EntryRequest) -> str | None:
    return parse_etag(entry.if_match) if entry.if_match else None


async def _post(conn: AsyncConnection[Any], ctx: BundleContext, entry: EntryRequest,
                planned: str | None) -> EntryResult:
    assert entry.resource_type
    if entry.operation is not None:
        raise NotSupported(f"{entry.label}: operations inside bundles are not supported yet")
    if planned is not None:  # a transaction already resolved ifNoneExist and chose the id
        outcome = await interactions.create(conn, ctx.indexer, entry.resource_type, entry.resource, rid=planned,
                                            policy=ctx.policy)
    else:
        outcome = await interactions.create(conn, ctx.indexer, entry.resource_type, entry.resource,
                                            entry.if_none_exist, policy=ctx.policy)
    return _written(outcome.version, 201 if outcome.created else 200)


def bulk_creatable(entry: EntryRequest) -> bool:
    """A transaction's plain create: written together with the others by ``execute_creates``
    (not when a write rule must run for it: those run on the general path, entry by entry)."""
    return entry.method == "POST" and entry.resource_type is not None and entry.operation is None \
        and isinstance(entry.resource, dict) and not create_needs_rules(entry.resource_type, entry.resource)


async def execute_creates(conn: AsyncConnection[Any], ctx: BundleContext,
                          entries: list[tuple[EntryRequest, str]]) -> dict[int, EntryResult]:
    """The creates of a transaction with their planned ids: each checked and validated as a
    single create is, then stored together (``repository.create_many``).
    An entry's error is raised as ``EntryError`` so the transaction can name the entry."""
    prepared = []
    for entry, rid in entries:
        assert entry.resource_type
        try:
            resource, _ = await interactions.prepare_create(conn, entry.resource_type, entry.resource, ctx.policy)
        except FhirError as exc:
            raise EntryError(entry, exc) from exc
        prepared.append((resource, rid))
    versions = await repository.create_many(conn, ctx.indexer, prepared)
    results = {}
    for (entry, _), version in zip(entries, versions, strict=True):
        try:
            await ctx.policy.check_written(conn, version.resource_type, version.id, "c")
        except FhirError as exc:
            raise EntryError(entry, exc) from exc
        results[entry.index] = _written(version, 201)
    return results


class EntryError(Exception):
    """A FhirError of one entry among several executed together."""

    def __init__(self, entry: EntryRequest, error: FhirError) -> None:
        super().__init__(error.message)
        self.entry, self.error = entry, error


async def _put(conn: AsyncConnection[Any], ctx: BundleContext, entry: EntryRequest,
               planned: str | None) -> EntryResult:
    assert entry.resource_type
    rid = entry.resource_id or planned
    if rid is None:
        outcome = await interactions.conditional_update(conn, ctx.indexer, entry.resource_type, entry.query,
                                                        entry.resource, _if_match(entry), ctx.policy)
    else:
        body = entry.resource
        chosen = entry.resource_id is not None or (isinstance(body, dict) and body.get("id") == rid)
        if entry.resource_id is None and isinstance(body, dict):
            body = {**body, "id": rid}  # conditional update target chosen while planning
        outcome = await interactions.update(conn, ctx.indexer, entry.resource_type, rid, body, _if_match(entry),
                                            ctx.policy, chosen)
    return _written(outcome.version, 201 if outcome.created else 200)


async def _delete(conn: AsyncConnection[Any], ctx: BundleContext, entry: EntryRequest) -> EntryResult:
    assert entry.resource_type
    if entry.resource_id:
        version = await interactions.delete(conn, ctx.indexer, entry.resource_type, entry.resource_id,
                                            _if_match(entry), ctx.policy)
        return EntryResult("204 No Content", etag=version.etag if version else None)
    if not entry.query:
        raise BadRequest(f"{entry.label}: DELETE needs an id or search criteria")
    await interactions.conditional_delete(conn, ctx.indexer, entry.resource_type, entry.query,
                                          ctx.max_conditional_delete, ctx.policy)
    return EntryResult("204 No Content")


async def _read(conn: AsyncConnection[Any], ctx: BundleContext, entry: EntryRequest) -> EntryResult:
    assert entry.resource_type and entry.resource_id
    await ctx.policy.check_visible(conn, entry.resource_type, entry.resource_id, "r")
    if entry.version_id is not None:
        version = await repository.vread(conn, entry.resource_type, entry.resource_id, entry.version_id)
        await ctx.policy.check_version_visible(conn, entry.resource_type, entry.resource_id, version.version_id)
    else:
        version = await repository.read(conn, entry.resource_type, entry.resource_id)
    if entry.if_none_match and parse_etag(entry.if_none_match) == str(version.version_id):
        return EntryResult("304 Not Modified", etag=version.etag)
    if entry.if_modified_since and \
            version.last_updated.replace(microsecond=0) <= parse_http_date(entry.if_modified_since):
        return EntryResult("304 Not Modified", etag=version.etag)
    return EntryResult("200 OK", None, version.etag, version.last_updated, version.body)


async def execute_entry(conn: AsyncConnection[Any], ctx: BundleContext, entry: EntryRequest,
                        planned: str | None) -> EntryResult:
    if entry.resource_type is None:
        raise NotSupported(f"{entry.label}: system-level requests inside bundles are not supported")
    if entry.method == "POST":
        return await _post(conn, ctx, entry, planned)
    if entry.method == "PUT":
        return await _put(conn, ctx, entry, planned)
    if entry.method == "DELETE":
        return await _delete(conn, ctx, entry)
    if entry.method == "PATCH":
        outcome = await interactions.patch(conn, ctx.indexer, entry.resource_type, entry.resource_id,
                                           entry.query, _patcher(entry), _if_match(entry), ctx.policy)
        return _written(outcome.version, 200)
    if entry.resource_id and entry.operation in (None, "_history") and (entry.operation is None or entry.version_id):
        return await _read(conn, ctx, entry)
    return await search_entry(conn, ctx, entry)


async def search_entry(conn: AsyncConnection[Any], ctx: BundleContext, entry: EntryRequest) -> EntryResult:
    raise NotSupported(f"{entry.label}: searches inside bundles are not supported yet")
