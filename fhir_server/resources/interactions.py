"""The write interactions inside a caller's transaction, shared by single requests and bundles.

Each function checks the request against the spec rules (type and id agreement, R4
validation) before touching the database, then calls the repository primitives and the
conditional helpers on the connection it is given. http://hl7.org/fhir/R4/http.html
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from ..definitions import definitions
from ..errors import BadRequest, FhirError, Forbidden, Issue, MethodNotAllowed, NotFound, Unprocessable
from ..jsonio import parse_json
from ..rules.context import writing_as
from ..smart_auth.policy import OPEN_POLICY, Policy
from . import conditional, repository
from .repository import ID_PATTERN, Indexer
from .validation import validate_resource
from .versions import Version

__all__ = ["WriteOutcome", "check_type", "check_id", "check_body", "validate_or_raise", "prepare_create", "create",
           "update", "conditional_update", "patch", "delete", "conditional_delete", "Patcher"]

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
    if not ID_PATTERN.fullmatch(rid):
        raise BadRequest(f"Invalid id '{rid[:80]}': ids match [A-Za-z0-9\\-\\.]{{1,64}}")
    return rid


def check_writable(rtype: str) -> str:
    """AuditEvents are the server's append-only trail (audit/routes.py), never written here."""
    if rtype == "AuditEvent":
        raise MethodNotAllowed("AuditEvents are an append-only trail: submit new ones with POST [base]/AuditEvent "
                               "(or PUT of a new id), not in bundles; they cannot be updated or deleted")
    return rtype


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


def _parse_stored(body: bytes) -> dict[str, Any]:
    value = parse_json(body, max_depth=None)
    assert isinstance(value, dict)
    return value


Patcher = Callable[[dict[str, Any]], dict[str, Any]]


async def create(conn: AsyncConnection[Any], indexer: Indexer, rtype: str, body: Any,
                 if_none_exist: str | None = None, rid: str | None = None,
                 policy: Policy = OPEN_POLICY) -> WriteOutcome:
    """Create (``rid``: an id chosen beforehand, as a transaction bundle does for its fullUrls)."""
    writing_as(policy)  # rules that depend on the caller read it (rules/context.py)
    resource, warnings = await prepare_create(conn, rtype, body, policy)
    rows = policy.predicate(rtype, "c")
    if if_none_exist is not None:
        existing = await conditional.match_for_create(conn, rtype, if_none_exist, rows)
        if existing is not None:
            return WriteOutcome(await repository.read(conn, rtype, existing), False)
    version = await repository.create(conn, indexer, resource, rid)
    await policy.check_written(conn, rtype, version.id, "c")
    return WriteOutcome(version, True, warnings)


async def prepare_create(conn: AsyncConnection[Any], rtype: str, body: Any,
                         policy: Policy = OPEN_POLICY) -> tuple[dict[str, Any], tuple[Issue, ...]]:
    """Everything a create checks before writing: type, body, scope, security labels, R4 validity."""
    resource = check_body(check_writable(check_type(rtype)), body)
    policy.predicate(rtype, "c")  # Forbidden when no scope allows creating this type
    await _check_labels(conn, policy, rtype, None, resource)
    return resource, validate_or_raise(resource)


async def _check_labels(conn: AsyncConnection[Any], policy: Policy, rtype: str, rid: str | None,
                        resource: dict[str, Any]) -> None:
    """A caller who may not set security labels must leave them as they are (none on a create)."""
    if policy.may_set_security_labels:
        return
    current: Any = None
    if rid is not None:
        cur = await conn.execute("SELECT content->'meta'->'security' FROM resource WHERE resource_type = %s"
                                 " AND id = %s AND version_id > 0 AND NOT deleted", (rtype, rid))
        row = await cur.fetchone()
        current = row[0] if row else None
    wanted = (resource.get("meta") or {}).get("security") if isinstance(resource.get("meta"), dict) else None
    if (wanted or None) != (current or None):
        raise Forbidden("This access token may not set or change security labels (meta.security)")


async def _check_replace(conn: AsyncConnection[Any], policy: Policy, rtype: str, rid: str,
                         chosen_id: bool = True) -> str:
    """The interaction a write to ``rtype/rid`` is (u, or c when nothing live is there), checked.

    A token whose rows are narrowed (patient compartment, scope filter) must not learn whether
    an id it cannot see exists: an update of such an id and an update-as-create of a
    client-chosen id are refused alike, 403 with the same message (create with POST instead).
    ``chosen_id`` False: the server picked the id (conditional update with no match)."""
    if policy.open:
        return "u"
    if not (policy.allows(rtype, "c") or policy.allows(rtype, "u")):
        policy.predicate(rtype, "u")  # Forbidden: no scope to write the type at all, whatever the id
    if await repository.is_live(conn, rtype, rid):
        if policy.allows(rtype, "u"):
            rows = policy.predicate(rtype, "u")
            if rows is None or await policy.matches(conn, rtype, rid, rows):
                return "u"
    elif policy.allows(rtype, "c"):
        policy.predicate(rtype, "c")  # any scope refusal of the type, before the id counts
        if not chosen_id or (policy.allows(rtype, "u") and policy.predicate(rtype, "u") is None):
            return "c"
    raise Forbidden(f"{rtype}/{rid} is not a resource this access token may update; a token limited to a "
                    "patient or a scope filter cannot create with a chosen id (use POST)")


async def update(conn: AsyncConnection[Any], indexer: Indexer, rtype: str, rid: str, body: Any,
                 if_match: str | None = None, policy: Policy = OPEN_POLICY, chosen_id: bool = True) -> WriteOutcome:
    """Update (or update as create); ``chosen_id`` False when the server planned the id."""
    writing_as(policy)  # rules that depend on the caller read it (rules/context.py)
    resource = check_body(check_writable(check_type(rtype)), body)
    if "id" not in resource:
        raise BadRequest("Update body has no id: it must carry the id given in the URL")
    if resource["id"] != rid:
        raise BadRequest(f"Body id '{resource['id']}' does not match the URL id '{rid}'")
    check_id(rid)
    interaction = await _check_replace(conn, policy, rtype, rid, chosen_id)
    await _check_labels(conn, policy, rtype, rid, resource)
    warnings = validate_or_raise(resource)
    version, created = await repository.update(conn, indexer, resource, rid, if_match)
    await policy.check_written(conn, rtype, rid, interaction)
    return WriteOutcome(version, created, warnings)


async def conditional_update(conn: AsyncConnection[Any], indexer: Indexer, rtype: str,
                             query: list[tuple[str, str]], body: Any, if_match: str | None = None,
                             policy: Policy = OPEN_POLICY) -> WriteOutcome:
    writing_as(policy)  # rules that depend on the caller read it (rules/context.py)
    resource = check_body(check_writable(check_type(rtype)), body)
    if "id" in resource:
        check_id(str(resource["id"]))
    warnings = validate_or_raise(resource)
    rid = await conditional.target_for_update(conn, rtype, query, resource.get("id"), policy.predicate(rtype, "u"))
    interaction = await _check_replace(conn, policy, rtype, rid, rid == resource.get("id"))
    await _check_labels(conn, policy, rtype, rid, resource)
    version, created = await repository.update(conn, indexer, {**resource, "id": rid}, rid, if_match)
    await policy.check_written(conn, rtype, rid, interaction)
    return WriteOutcome(version, created, warnings)


async def patch(conn: AsyncConnection[Any], indexer: Indexer, rtype: str, rid: str | None,
                query: list[tuple[str, str]] | None, apply: Patcher, if_match: str | None = None,
                policy: Policy = OPEN_POLICY) -> WriteOutcome:
    """Patch by id or by search (conditional patch); ``apply`` maps old content to new."""
    writing_as(policy)  # rules that depend on the caller read it (rules/context.py)
    check_writable(check_type(rtype))
    if rid is None:
        rid = await conditional.single_match(conn, rtype, query or [], policy.predicate(rtype, "u"))
    await policy.check_visible(conn, rtype, rid, "u")
    # The base is read row-locked: concurrent patches then apply one after the other, each to
    # the version the previous one wrote (http.html#concurrency), whatever the patch format.
    current = await repository.read(conn, rtype, rid, for_update=True)
    assert current.body is not None
    patched = apply(_parse_stored(current.body))
    check_body(rtype, patched)
    if patched.get("id") != rid:
        raise Unprocessable("A patch may not change the resource id")
    await _check_labels(conn, policy, rtype, rid, patched)
    warnings = validate_or_raise(patched)
    version, _ = await repository.update(conn, indexer, patched, rid, if_match, "PATCH")
    await policy.check_written(conn, rtype, rid, "u")
    return WriteOutcome(version, False, warnings)


async def delete(conn: AsyncConnection[Any], indexer: Indexer, rtype: str, rid: str,
                 if_match: str | None = None, policy: Policy = OPEN_POLICY) -> Version | None:
    """Delete by id. A token with narrowed rows gets 404 alike for an id it cannot see and for
    one that is unknown or already deleted (deleting nothing is 200 only for unnarrowed tokens)."""
    writing_as(policy)  # rules that depend on the caller read it (rules/context.py)
    check_writable(check_type(rtype))
    rows = policy.predicate(rtype, "d")
    if rows is not None and not (await repository.is_live(conn, rtype, rid)
                                 and await policy.matches(conn, rtype, rid, rows)):
        raise NotFound(f"Resource {rtype}/{rid} is not known")
    return await repository.delete(conn, indexer, rtype, rid, if_match)


async def conditional_delete(conn: AsyncConnection[Any], indexer: Indexer, rtype: str,
                             query: list[tuple[str, str]], max_matches: int,
                             policy: Policy = OPEN_POLICY) -> list[Version]:
    writing_as(policy)  # rules that depend on the caller read it (rules/context.py)
    rows = policy.predicate(check_writable(check_type(rtype)), "d")
    ids = await conditional.matches_for_delete(conn, rtype, query, max_matches, rows)
    deleted = [await repository.delete(conn, indexer, rtype, rid) for rid in ids]
    return [v for v in deleted if v is not None]
