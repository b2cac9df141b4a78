"""Batch and transaction bundles (http://hl7.org/fhir/R4/http.html#transaction).

A transaction is one PostgreSQL transaction: every entry succeeds or nothing is visible.
Entries run in the spec's order (DELETE, POST, PUT/PATCH, GET/HEAD) whatever their order in
the bundle; ids for creates are chosen first so ``fullUrl`` references (``urn:uuid:``...)
and conditional references are rewritten before anything is written. A batch runs each
entry in its own transaction; a failed entry carries its OperationOutcome and the others apply.
Before any row is locked, a transaction takes the advisory locks of the conditions it decides
and of the resources it changes, each set in one canonical order (``resources.locks``), so
crossed transactions queue instead of deadlocking; one that is aborted anyway (deadlock,
serialization failure) is re-run whole (``retry.in_transaction``), never answered 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from psycopg import AsyncConnection

from ..audit.trail import AuditTrail, record_access, record_change
from ..db import Database
from ..errors import BadRequest, FhirError, Issue, operation_outcome
from ..resources import conditional, repository
from ..resources.locks import CONDITION_SPACE, RESOURCE_SPACE, lock_all, resource_key
from ..resources.repository import Indexer, new_id
from ..retry import in_transaction
from ..smart_auth.policy import OPEN_POLICY, Policy
from .entries import METHOD_ORDER, EntryRequest
from .execute import EntryError, EntryResult, bulk_creatable, execute_creates, execute_entry, reason_phrase
from .references import collect_references, resolve_conditionals, rewrite_references

__all__ = ["process_transaction", "process_batch", "BundleContext", "TransactionHooks"]

CREATE_CHUNK = 500  # creates written per pair of statements (bounds one statement's JSON document)


@dataclass(frozen=True)
class BundleContext:
    db: Database
    indexer: Indexer
    base: str
    max_conditional_delete: int
    policy: Policy = OPEN_POLICY
    trail: AuditTrail | None = None


class TransactionHooks(Protocol):
    """Work an operation adds to a transaction bundle's own PostgreSQL transaction (Claim/$submit:
    the idempotency check before, the adjudication after). Both may run again on a retry."""

    async def before(self, conn: AsyncConnection[Any]) -> bool:
        """False: write nothing (e.g. an earlier answer is replayed)."""

    async def after(self, conn: AsyncConnection[Any], results: dict[int, EntryResult]) -> None: ...


def _check_overlaps(entries: list[EntryRequest]) -> None:
    """A transaction may not touch one resource twice (http.html#trules)."""
    seen: dict[str, int] = {}
    for entry in entries:
        if entry.method in ("PUT", "PATCH", "DELETE") and entry.resource_id and entry.resource_type:
            key = f"{entry.resource_type}/{entry.resource_id}"
            if key in seen:
                raise BadRequest(f"Transaction touches {key} twice (entries {seen[key]} and {entry.index})")
            seen[key] = entry.index


async def _plan_ids(conn: AsyncConnection[Any], ctx: BundleContext, entries: list[EntryRequest],
                    preset: dict[int, EntryResult]) -> tuple[dict[int, str], dict[str, str]]:
    """Choose the id of every create and update target; map each fullUrl to Type/id."""
    assigned: dict[int, str] = {}
    full_urls: dict[str, str] = {}
    for entry in entries:
        rtype = entry.resource_type
        if entry.method == "POST" and rtype and entry.operation is None:
            existing = None
            if entry.if_none_exist:
                existing = await conditional.match_for_create(conn, rtype, entry.if_none_exist,
                                                              ctx.policy.predicate(rtype, "c"))
            if existing is not None:
                preset[entry.index] = await _existing_result(conn, rtype, existing)
            assigned[entry.index] = existing or new_id()
        elif entry.method == "PUT" and rtype and entry.resource_id is None and entry.query:
            body_id = entry.resource.get("id") if isinstance(entry.resource, dict) else None
            assigned[entry.index] = await conditional.target_for_update(conn, rtype, entry.query, body_id,
                                                                        ctx.policy.predicate(rtype, "u"))
        elif entry.method == "PUT" and rtype and entry.resource_id:
            assigned[entry.index] = entry.resource_id
        if entry.full_url and entry.index in assigned and rtype:
            full_urls[entry.full_url] = f"{rtype}/{assigned[entry.index]}"
    return assigned, full_urls


async def _existing_result(conn: AsyncConnection[Any], rtype: str, rid: str) -> EntryResult:
    version = await repository.read(conn, rtype, rid)
    return EntryResult("200 OK", f"{rtype}/{rid}/_history/{version.version_id}", version.etag,
                       version.last_updated, version.body)


def _condition_keys(entries: list[EntryRequest]) -> list[str]:
    """The conditions the entries decide (ifNoneExist, conditional PUT/PATCH/DELETE), normalized.
    Locked together first (``lock_all``): two transactions deciding the same conditions in
    different orders would otherwise deadlock. One condition needs no ordering."""
    keys = []
    for entry in entries:
        if entry.resource_type is None:
            continue
        if entry.method == "POST" and entry.if_none_exist:
            try:
                keys.append(conditional.condition_key(entry.resource_type,
                                                      conditional.parse_condition(entry.if_none_exist)))
            except FhirError:
                continue  # reported by the entry itself, in the spec's order
        elif entry.method in ("PUT", "PATCH", "DELETE") and entry.resource_id is None and entry.query:
            keys.append(conditional.condition_key(entry.resource_type, entry.query))
    return keys if len(keys) > 1 else []


def _target_keys(entries: list[EntryRequest], assigned: dict[int, str]) -> list[str]:
    """The existing or client-named resources the entries change (PUT, PATCH, DELETE by id,
    conditional PUT targets as planned), locked in one order before any of their rows is.
    A single target needs no ordering: its row lock is taken by the write itself."""
    keys = []
    for entry in entries:
        if entry.method in ("PUT", "PATCH", "DELETE") and entry.resource_type:
            rid = entry.resource_id or assigned.get(entry.index)
            if rid is not None:
                keys.append(resource_key(entry.resource_type, rid))
    return keys if len(keys) > 1 else []


async def _rewrite_all(conn: AsyncConnection[Any], ctx: BundleContext, entries: list[EntryRequest],
                       full_urls: dict[str, str], rewritten: list[tuple[dict[str, Any], str]]) -> None:
    found: set[str] = set()
    holders: list[dict[str, Any]] = []  # the Reference objects of the resources to be written
    for entry in entries:
        if isinstance(entry.resource, dict):
            collect_references(entry.resource, found, holders if entry.method in ("POST", "PUT") else None)

    async def resolve(rtype: str, params: list[tuple[str, str]]) -> list[str]:
        from ..search.service import find_ids

        return await find_ids(conn, rtype, params, 2, extra=ctx.policy.readable(rtype, "s"))

    mapping = {**full_urls, **await resolve_conditionals(found - set(full_urls), resolve)}
    rewritten.extend((holder, holder["reference"]) for holder in holders if holder["reference"] in mapping)
    rewrite_references(holders, mapping)


def _failure(entry: EntryRequest, exc: FhirError) -> FhirError:
    """The transaction's error: the entry's own status, its issues located in the bundle."""
    issues = [Issue(i.severity, i.code, f"{entry.label}: {i.diagnostics}",
                    tuple(f"Bundle.entry[{entry.index}].resource.{e.split('.', 1)[-1]}" if "." in e else e
                          for e in i.expression))
              for i in exc.issues]
    return type(exc)(f"{entry.label}: {exc.message}", issues, exc.headers)


async def process_transaction(ctx: BundleContext, entries: list[EntryRequest],
                              hooks: TransactionHooks | None = None) -> list[EntryResult]:
    """The entries' results in bundle order ([] when ``hooks.before`` chose to write nothing)."""
    _check_overlaps(entries)
    results: dict[int, EntryResult] = {}
    rewritten: list[tuple[dict[str, Any], str]] = []  # references as sent, restored for a re-run

    async def work(conn: AsyncConnection[Any]) -> None:
        results.clear()
        if hooks is not None and not await hooks.before(conn):
            return
        await lock_all(conn, _condition_keys(entries), CONDITION_SPACE)
        assigned, full_urls = await _plan_ids(conn, ctx, entries, results)
        await lock_all(conn, _target_keys(entries, assigned), RESOURCE_SPACE)
        await _rewrite_all(conn, ctx, entries, full_urls, rewritten)
        await _execute_in_order(conn, ctx, entries, assigned, results)
        if hooks is not None:
            await hooks.after(conn, results)
        changed, bodies = _changed(entries, results)
        await record_change(ctx.trail, conn, ctx.policy.access, "transaction", changed, bodies)

    def restore_references() -> None:
        for holder, reference in rewritten:
            holder["reference"] = reference
        rewritten.clear()

    await in_transaction(ctx.db, work, on_retry=restore_references)
    if not results:
        return []
    ordered = [results[e.index] for e in entries]
    _audit_batch_reads(ctx, entries, ordered)  # the transaction's reads, now that it committed
    return ordered


async def _execute_in_order(conn: AsyncConnection[Any], ctx: BundleContext, entries: list[EntryRequest],
                            assigned: dict[int, str], results: dict[int, EntryResult]) -> None:
    """Spec order (DELETE, POST, PUT/PATCH, GET/HEAD); the plain creates, which all come at the
    POST step, are written together in chunks of ``CREATE_CHUNK``."""
    creates = [(e, assigned[e.index]) for e in entries
               if e.index not in results and e.index in assigned and bulk_creatable(e)]
    bulk = {e.index for e, _ in creates}
    pending = [e for e in sorted(entries, key=lambda e: (METHOD_ORDER[e.method], e.index)) if e.index not in results]
    first_bulk = next((i for i, e in enumerate(pending) if e.index in bulk), len(pending))
    await _execute_singly(conn, ctx, pending[:first_bulk], assigned, results)
    if creates:  # all written together, where the first of them stands in the order
        results.update(await _execute_creates(conn, ctx, creates))
    await _execute_singly(conn, ctx, [e for e in pending[first_bulk:] if e.index not in bulk], assigned, results)


async def _execute_singly(conn: AsyncConnection[Any], ctx: BundleContext, entries: list[EntryRequest],
                          assigned: dict[int, str], results: dict[int, EntryResult]) -> None:
    """Entries one by one, in pipeline mode: writes whose results nobody reads are sent without
    waiting for each answer (the plain creates are not: their index rows go by COPY, which a
    pipeline cannot carry)."""
    if not entries:
        return
    async with conn.pipeline():
        for entry in entries:
            try:
                results[entry.index] = await execute_entry(conn, ctx, entry, assigned.get(entry.index))
            except FhirError as exc:
                raise _failure(entry, exc) from exc


async def _execute_creates(conn: AsyncConnection[Any], ctx: BundleContext,
                           creates: list[tuple[EntryRequest, str]]) -> dict[int, EntryResult]:
    results: dict[int, EntryResult] = {}
    for start in range(0, len(creates), CREATE_CHUNK):
        try:
            results.update(await execute_creates(conn, ctx, creates[start:start + CREATE_CHUNK]))
        except EntryError as exc:
            raise _failure(exc.entry, exc.error) from exc.error
    return results


def _changed(entries: list[EntryRequest], results: dict[int, EntryResult]) -> tuple[list[str], list[bytes | None]]:
    """Type/id and stored body of every resource the bundle wrote (creates matching an existing one excluded)."""
    refs: dict[str, bytes | None] = {}
    for entry in entries:
        result = results[entry.index]
        if entry.method == "DELETE" and entry.resource_type and entry.resource_id:
            refs[f"{entry.resource_type}/{entry.resource_id}"] = None
        elif result.location and (entry.method in ("PUT", "PATCH") or
                                  (entry.method == "POST" and result.status.startswith("201"))):
            refs[result.location.split("/_history/")[0]] = result.resource
    return list(refs), list(refs.values())


async def process_batch(ctx: BundleContext, entries: list[EntryRequest]) -> list[EntryResult]:
    results: list[EntryResult] = []
    for entry in entries:
        try:
            results.append(await in_transaction(ctx.db, partial(_batch_entry, ctx=ctx, entry=entry)))
        except FhirError as exc:
            results.append(EntryResult(reason_phrase(exc.status), outcome=operation_outcome(exc.issues)))
    _audit_batch_reads(ctx, entries, results)
    return results


async def _batch_entry(conn: AsyncConnection[Any], ctx: BundleContext, entry: EntryRequest) -> EntryResult:
    result = await execute_entry(conn, ctx, entry, None)
    changed, bodies = _changed([entry], {entry.index: result})
    await record_change(ctx.trail, conn, ctx.policy.access, "batch", changed, bodies)
    return result


def _audit_batch_reads(ctx: BundleContext, entries: list[EntryRequest], results: list[EntryResult]) -> None:
    """Reads and refused entries of a bundle (its changes were recorded in their own transactions)."""
    for entry, result in zip(entries, results, strict=True):
        if entry.method in ("GET", "HEAD") or not result.status.startswith("2"):
            ref = [f"{entry.resource_type}/{entry.resource_id}"] if entry.resource_type and entry.resource_id else []
            subtype = {"GET": "read", "HEAD": "read"}.get(entry.method, entry.method.lower())
            record_access(ctx.trail, ctx.policy.access, subtype, ref, result.status.split()[0])
