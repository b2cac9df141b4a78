"""Versioned resource storage: read, vread, create, update, delete on PostgreSQL JSONB.

http://hl7.org/fhir/R4/http.html#read, #vread, #create, #update, #delete, #versioning.
Every function takes the connection of a transaction opened by ``Database.transaction()``
(never commits itself), so a single request and a transaction bundle entry share one code
path -- except ``create_alone``, a plain create that is its own single-statement transaction.
Each write stores the resource row, its history row and its index rows together, then
runs the type's write rules (``rule_hook``, docs/rules.md) in the same transaction; the
fast creates (``create_alone``, ``create_many``) refuse types that have rules.
No lost updates: an update locks the current row (``FOR UPDATE``) before deciding the
next version, and a patch reads its base with that lock (``read(..., for_update=True)``);
a create with a client-chosen id is an ``INSERT ... ON CONFLICT`` race that falls back to
the update path.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from functools import cache
from typing import Any, Protocol

import psycopg
from psycopg import AsyncConnection, AsyncRawCursor

from ..errors import BadRequest, Gone, NotFound, PreconditionFailed
from ..fhir.canonical import canonical
from ..fhir.datetimes import format_instant, now_instant
from ..fhir.numbers import is_ascii_digits
from ..ids import time_ordered_id
from ..jsonio import dumps
from ..rules import create_needs_rules, has_rules
from .rule_hook import apply_rules, refuse_fast_path
from .versions import Version

ID_PATTERN = re.compile(r"[A-Za-z0-9\-.]{1,64}")

__all__ = ["ID_PATTERN", "Indexer", "read", "vread", "create", "create_alone", "create_many", "update", "delete",
           "current_version", "new_id"]

# "body" is the served text (canonical key order, decimals as written); "content" the same as JSONB.
_WRITE = """
WITH h AS (
  INSERT INTO resource_history (resource_type, id, version_id, txid, last_updated, method, deleted, content, body)
  VALUES (%(type)s, %(id)s, %(vid)s, nextval('fhir_txid_seq'), %(lu)s, %(method)s, %(deleted)s,
          %(content)s::text::jsonb, %(content)s::text)
  RETURNING resource_type, id, version_id, txid, last_updated, deleted, content, body
)
INSERT INTO resource (resource_type, id, version_id, txid, last_updated, deleted, content, body)
SELECT resource_type, id, version_id, txid, last_updated, deleted, content, body FROM h
ON CONFLICT (resource_type, id) DO UPDATE SET
  version_id = EXCLUDED.version_id, txid = EXCLUDED.txid, last_updated = EXCLUDED.last_updated,
  deleted = EXCLUDED.deleted, content = EXCLUDED.content, body = EXCLUDED.body
"""
_CLAIM_ID = """
INSERT INTO resource (resource_type, id, version_id, txid, last_updated, deleted, content)
VALUES (%s, %s, 0, 0, now(), true, NULL) ON CONFLICT DO NOTHING RETURNING 1
"""


class Indexer(Protocol):
    """Writes search index rows inside the caller's transaction (fhir_server.search.indexer)."""

    async def index_resource(self, conn: AsyncConnection[Any], resource_type: str, resource_id: str,
                             resource: dict[str, Any], fresh: bool = False) -> None: ...

    async def remove_index(self, conn: AsyncConnection[Any], resource_type: str, resource_id: str) -> None: ...

    async def index_fresh_resources(self, conn: AsyncConnection[Any],
                                    resources: list[tuple[str, str, dict[str, Any]]]) -> None: ...

    def fresh_ctes(self) -> str: ...

    async def fresh_values(self, conn: AsyncConnection[Any], resource_type: str, resource_id: str,
                           resource: dict[str, Any]) -> list[str]: ...


def new_id() -> str:
    return time_ordered_id()


def _row_to_version(row: tuple[Any, ...]) -> Version:
    rtype, rid, vid, lu, deleted, text, *rest = row
    return Version(rtype, rid, vid, lu, deleted, text.encode() if text is not None else None,
                   rest[0] if rest else None)


def _known_id(rtype: str, rid: str) -> None:
    """An id that breaks the id rules cannot exist: answer 404 without asking the database."""
    if not ID_PATTERN.fullmatch(rid):
        raise NotFound(f"Resource {rtype}/{rid[:80]} is not known (not a valid id)")


_READ = ("SELECT resource_type, id, version_id, last_updated, deleted, coalesce(body, content::text) FROM resource"
         " WHERE resource_type = %s AND id = %s AND version_id > 0")
_READ_LOCKED = _READ + " FOR UPDATE"


async def read(conn: AsyncConnection[Any], rtype: str, rid: str, for_update: bool = False) -> Version:
    """The current version; ``for_update``: row-locked until the transaction ends, so a change
    computed from it (a patch) cannot be overwritten by a concurrent write in between."""
    _known_id(rtype, rid)
    cur = await conn.execute(_READ_LOCKED if for_update else _READ, (rtype, rid))
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"Resource {rtype}/{rid} is not known")
    version = _row_to_version(row)
    if version.deleted:
        raise Gone(f"Resource {rtype}/{rid} was deleted (version {version.version_id})",
                   headers={"ETag": version.etag, "Last-Modified": version.last_modified})
    return version


async def is_live(conn: AsyncConnection[Any], rtype: str, rid: str) -> bool:
    """Is there a current, not deleted version of the resource?"""
    cur = await conn.execute("SELECT 1 FROM resource WHERE resource_type = %s AND id = %s AND version_id > 0"
                             " AND NOT deleted", (rtype, rid))
    return await cur.fetchone() is not None


async def read_any(conn: AsyncConnection[Any], rtype: str, rid: str) -> None:
    """Raise NotFound unless some version (a deletion included) of the resource exists."""
    cur = await conn.execute(
        "SELECT 1 FROM resource WHERE resource_type = %s AND id = %s AND version_id > 0", (rtype, rid))
    if await cur.fetchone() is None:
        raise NotFound(f"Resource {rtype}/{rid} is not known")


async def vread(conn: AsyncConnection[Any], rtype: str, rid: str, vid: str) -> Version:
    _known_id(rtype, rid)
    if not ID_PATTERN.fullmatch(vid):  # e.g. "²": not even an id (datatypes.html#id), so a malformed request
        raise BadRequest(f"Version id {vid[:80]!r} is not valid: version ids are whole numbers")
    if not is_ascii_digits(vid) or len(vid) > 9:
        raise NotFound(f"Version {vid} of {rtype}/{rid} is not known")
    cur = await conn.execute(
        "SELECT resource_type, id, version_id, last_updated, deleted, coalesce(body, content::text), method"
        " FROM resource_history WHERE resource_type = %s AND id = %s AND version_id = %s",
        (rtype, rid, int(vid)))
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"Version {vid} of {rtype}/{rid} is not known")
    version = _row_to_version(row)
    if version.deleted:
        raise Gone(f"Version {vid} of {rtype}/{rid} is a deletion")
    return version


async def current_version(conn: AsyncConnection[Any], rtype: str, rid: str,
                          claim: bool = True) -> tuple[int, bool] | None:
    """(version_id, deleted) of the current version, row-locked until the transaction ends.

    With ``claim``, a missing id is reserved by a placeholder row (version 0) that the
    caller's write replaces, so two creates of one client-chosen id cannot both succeed.
    """
    while True:
        cur = await conn.execute(
            "SELECT version_id, deleted FROM resource WHERE resource_type = %s AND id = %s FOR UPDATE",
            (rtype, rid))
        row = await cur.fetchone()
        if row is not None:
            return (row[0], row[1]) if row[0] > 0 else None
        if not claim:
            return None
        # Claim the id with a placeholder row so a concurrent create of the same id waits on us.
        claimed = await (await conn.execute(_CLAIM_ID, (rtype, rid))).fetchone()
        if claimed is not None:
            return None


def _stamp(resource: dict[str, Any], rid: str, vid: int) -> tuple[dict[str, Any], Any]:
    """Set id, meta.versionId and meta.lastUpdated (client values for these are ignored), and put
    every key in canonical order, so every write path stores, and every read serves, the same bytes."""
    moment = now_instant()
    meta = {k: v for k, v in (resource.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")}
    stamped = {**resource, "id": rid, "meta": {"versionId": str(vid), "lastUpdated": format_instant(moment), **meta}}
    return canonical(stamped), moment


async def _write(conn: AsyncConnection[Any], indexer: Indexer, resource: dict[str, Any], rid: str,
                 vid: int, method: str, fresh: bool) -> Version:
    """Store a version; ``fresh``: the id has no live version, hence no index rows to replace."""
    rtype = resource["resourceType"]
    stamped, moment = _stamp(resource, rid, vid)
    body = dumps(stamped)
    await conn.execute(_WRITE, {"type": rtype, "id": rid, "vid": vid, "lu": moment, "method": method,
                                "deleted": False, "content": body.decode()})
    await indexer.index_resource(conn, rtype, rid, stamped, fresh)
    if has_rules(rtype):
        await apply_rules(conn, method, rtype, rid, vid, not fresh, stamped)
    return Version(rtype, rid, vid, moment, False, body, method)


async def create(conn: AsyncConnection[Any], indexer: Indexer, resource: dict[str, Any],
                 rid: str | None = None) -> Version:
    """Create with a server-assigned id (any id in the body is ignored, as the spec says);
    ``rid`` is an id the server assigned earlier, e.g. for a transaction bundle's fullUrl."""
    return await _write(conn, indexer, resource, rid or new_id(), 1, "POST", fresh=True)


_NEW_VERSION = """
h AS (
  INSERT INTO resource_history (resource_type, id, version_id, txid, last_updated, method, deleted, content, body)
  VALUES ($1, $2, 1, nextval('fhir_txid_seq'), ${lu}, 'POST', false, ${content}::text::jsonb, ${content}::text)
  RETURNING resource_type, id, version_id, txid, last_updated, deleted, content, body
), r AS (
  INSERT INTO resource (resource_type, id, version_id, txid, last_updated, deleted, content, body)
  SELECT resource_type, id, version_id, txid, last_updated, deleted, content, body FROM h
)"""
# A further CTE written with a create (its SQL and values), given the version and the number
# of its first parameter.
AlsoWritten = Callable[[Version, int], tuple[str, Sequence[Any]]]
ConfirmLost = Callable[[int, str, tuple[Any, ...]], Awaitable[bool]]  # Database.statement_committed


async def create_alone(conn: AsyncConnection[Any], indexer: Indexer, resource: dict[str, Any],
                       also: AlsoWritten | None = None, confirm: ConfirmLost | None = None) -> Version:
    """A create that is a transaction of its own, written by ONE statement on an autocommit
    connection: resource and history rows, index rows, and ``also``'s CTE (e.g. the audit record).
    One round trip, no BEGIN/COMMIT; the statement is atomic, so a failure leaves nothing behind.
    Parameters: the indexer's values first (type and id are its ``$1``/``$2``), then the version's
    lastUpdated and content, then ``also``'s.

    The statement commits as it ends, so a connection lost before its answer may follow its
    commit: ``confirm`` (``Database.statement_committed``) then looks for the new id, which no
    other write can have made."""
    rtype, rid = resource["resourceType"], new_id()
    if has_rules(rtype):  # no transaction to run them in: ``service`` takes the general path
        refuse_fast_path(rtype, "create_alone")
    stamped, moment = _stamp(resource, rid, 1)
    body = dumps(stamped)
    version = Version(rtype, rid, 1, moment, False, body, "POST")
    index_values = await indexer.fresh_values(conn, rtype, rid, stamped)
    taken = len(index_values) + 2
    extra_cte, extra_values = also(version, taken + 1) if also else ("", ())
    backend = conn.info.backend_pid
    try:
        async with AsyncRawCursor(conn) as cur:
            await cur.execute(_create_statement(indexer.fresh_ctes(), taken, extra_cte),
                              [*index_values, moment, body.decode(), *extra_values])
    except psycopg.OperationalError:
        if confirm is None or not conn.broken or not await confirm(
                backend, "SELECT 1 FROM resource WHERE resource_type = %s AND id = %s", (rtype, rid)):
            raise
    return version



@cache
def _create_statement(index_ctes: str, taken: int, extra_cte: str) -> str:
    version = _NEW_VERSION.replace("${lu}", f"${taken - 1}").replace("${content}", f"${taken}")
    return f"WITH {version}, {index_ctes}{', ' + extra_cte if extra_cte else ''} SELECT 1"


_WRITE_MANY = """
WITH h AS (
  INSERT INTO resource_history (resource_type, id, version_id, txid, last_updated, method, deleted, content, body)
  SELECT u.t, u.i, 1, nextval('fhir_txid_seq'), u.lu, 'POST', false, u.b::jsonb, u.b
  FROM json_to_recordset(%s::json) AS u(t text, i text, lu timestamptz, b text)
  RETURNING resource_type, id, version_id, txid, last_updated, deleted, content, body
)
INSERT INTO resource (resource_type, id, version_id, txid, last_updated, deleted, content, body)
SELECT resource_type, id, version_id, txid, last_updated, deleted, content, body FROM h
"""


async def create_many(conn: AsyncConnection[Any], indexer: Indexer,
                      items: list[tuple[dict[str, Any], str]]) -> list[Version]:
    """Create many resources with ids assigned beforehand (a transaction bundle's creates):
    the same rows as ``create`` for each, written for the whole list at once: one statement for the
    resource and history rows, then the index rows (``indexer.index_fresh_resources``)."""
    rows: list[dict[str, Any]] = []
    indexed: list[tuple[str, str, dict[str, Any]]] = []
    versions: list[Version] = []
    for resource, rid in items:
        if create_needs_rules(resource["resourceType"], resource):  # the bundle executes these entries singly
            refuse_fast_path(resource["resourceType"], "create_many")
        content, moment = _stamp(resource, rid, 1)
        rtype, body = content["resourceType"], dumps(content)
        rows.append({"t": rtype, "i": rid, "lu": format_instant(moment), "b": body.decode()})
        indexed.append((rtype, rid, content))
        versions.append(Version(rtype, rid, 1, moment, False, body, "POST"))
    await conn.execute(_WRITE_MANY, (dumps(rows).decode(),))
    await indexer.index_fresh_resources(conn, indexed)
    return versions


async def update(conn: AsyncConnection[Any], indexer: Indexer, resource: dict[str, Any], rid: str,
                 if_match: str | None = None, method: str = "PUT") -> tuple[Version, bool]:
    """Update (or create with the client's id); return (version, created)."""
    current = await current_version(conn, resource["resourceType"], rid)
    if if_match is not None:
        _check_if_match(resource["resourceType"], rid, current, if_match)
    next_vid = 1 if current is None else current[0] + 1
    version = await _write(conn, indexer, resource, rid, next_vid, method, fresh=current is None or current[1])
    return version, current is None


def _check_if_match(rtype: str, rid: str, current: tuple[int, bool] | None, if_match: str) -> None:
    if current is None or current[1]:
        raise PreconditionFailed(f"If-Match {if_match} given but {rtype}/{rid} has no current version")
    if str(current[0]) != if_match:
        raise PreconditionFailed(
            f"Version conflict on {rtype}/{rid}: If-Match names version {if_match}, current is {current[0]}")


async def delete(conn: AsyncConnection[Any], indexer: Indexer, rtype: str, rid: str,
                 if_match: str | None = None) -> Version | None:
    """Write a tombstone version; None when there was nothing to delete (never existed or deleted)."""
    current = await current_version(conn, rtype, rid, claim=False)
    if if_match is not None:
        _check_if_match(rtype, rid, current, if_match)
    if current is None or current[1]:
        return None
    moment = now_instant()
    vid = current[0] + 1
    await conn.execute(_WRITE, {"type": rtype, "id": rid, "vid": vid, "lu": moment, "method": "DELETE",
                                "deleted": True, "content": None})
    await indexer.remove_index(conn, rtype, rid)
    if has_rules(rtype):
        await apply_rules(conn, "DELETE", rtype, rid, vid, True, None)
    return Version(rtype, rid, vid, moment, True, None, "DELETE")
