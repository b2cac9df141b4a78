"""The audit trail of the FHIR API: one AuditEvent (IHE BALP shape, ``events.py``) per request.

- A change is recorded inside the transaction that makes it (``record_change``): it commits
  or rolls back with the change, so nothing changes without its record.
- Everything else — reads, searches, history, operations, token requests, refused and failed
  requests (including failed writes, which changed nothing) — is recorded by ``AuditMiddleware``
  after the response, through the recorder's buffer (no extra round trip on the read path).
- The patients involved: the Patient named by the path, the token's launch patient, and for
  other resources the Patients they reference (looked up from the reference index in one
  query per flush or per write transaction).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from psycopg import AsyncConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..request_id import current_request_id
from .events import AuditRecord, build_audit_record
from .recorder import AuditRecorder, insert_records

__all__ = ["AuditEventDraft", "AuditTrail", "AuditMiddleware", "patients_of", "record_change", "record_access",
           "record_versions", "record_request", "version_record"]

_INSTANCE = re.compile(r"^/fhir/([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(/.*)?$")


@dataclass
class AuditEventDraft:
    """What is known of an event before its patients are looked up."""

    subtype: str
    outcome: str
    outcome_desc: str | None = None
    client_id: str | None = None
    user_ref: str | None = None
    patients: set[str] = field(default_factory=set)
    entities: list[str] = field(default_factory=list)
    query: str | None = None
    request_id: str | None = None
    address: str | None = None


async def patients_of(conn: AsyncConnection[Any], entities: list[str]) -> dict[str, set[str]]:
    """Patient references of each ``Type/id`` entity (itself for a Patient), from the reference index."""
    found: dict[str, set[str]] = {ref: {ref} for ref in entities if ref.startswith("Patient/")}
    others = [ref.split("/", 1) for ref in entities if not ref.startswith("Patient/") and "/" in ref]
    if others:
        cur = await conn.execute(
            "SELECT DISTINCT i.resource_type, i.id, i.target_id FROM search_reference i"
            " JOIN unnest(%s::text[], %s::text[]) AS k(t, i) ON i.resource_type = k.t AND i.id = k.i"
            " WHERE i.target_type = 'Patient' AND i.target_id IS NOT NULL",
            ([t for t, _ in others], [i for _, i in others]))
        for rtype, rid, target in await cur.fetchall():
            found.setdefault(f"{rtype}/{rid}", set()).add(f"Patient/{target}")
    return found


class AuditTrail:
    def __init__(self, recorder: AuditRecorder, server_url: str) -> None:
        self.recorder = recorder
        self.server_url = server_url
        recorder.enrich = self._build_all

    def _build(self, draft: AuditEventDraft, patients: dict[str, set[str]]) -> AuditRecord:
        involved = set(draft.patients)
        for ref in draft.entities:
            involved |= patients.get(ref, set())
        return build_audit_record(
            subtype=draft.subtype, outcome=draft.outcome, outcome_desc=draft.outcome_desc,
            client_id=draft.client_id, user_ref=draft.user_ref, patient_refs=tuple(sorted(involved)),
            entity_refs=tuple(draft.entities), query=draft.query, request_id=draft.request_id,
            server_url=self.server_url, client_address=draft.address, key=self.recorder.key)

    async def _build_all(self, conn: AsyncConnection[Any], drafts: list[AuditEventDraft]) -> list[AuditRecord]:
        patients = await patients_of(conn, sorted({ref for d in drafts for ref in d.entities}))
        records = []
        for start in range(0, len(drafts), 64):
            records += [self._build(d, patients) for d in drafts[start:start + 64]]
            await asyncio.sleep(0)  # a large flush must not stall the requests sharing this loop
        return records

    def change_record(self, draft: AuditEventDraft) -> AuditRecord:
        """The record of a change whose ``draft.patients`` is already complete."""
        draft.request_id = draft.request_id or current_request_id()
        return self._build(draft, {})

    async def record_change(self, conn: AsyncConnection[Any], draft: AuditEventDraft) -> None:
        """Inside the write's transaction."""
        await insert_records(conn, [self.change_record(draft)])

    def record_later(self, draft: AuditEventDraft) -> None:
        self.recorder.record_later(draft)


def record_access(trail: AuditTrail | None, access: Any, subtype: str, entities: list[str], status: str) -> None:
    """A non-changing event (or a refused change) recorded after the fact."""
    if trail is None:
        return
    code = int(status) if status.isdigit() else 500
    patients = {f"Patient/{access.patient}"} if getattr(access, "patient", None) else set()
    trail.record_later(AuditEventDraft(
        subtype=subtype, outcome=_outcome(code), outcome_desc=None if code < 400 else f"HTTP {code}",
        client_id=access.client_id, user_ref=access.user, patients=patients, entities=entities,
        request_id=current_request_id()))


_PATIENT_REFERENCE = re.compile(rb'"reference"\s*:\s*"(?:[^"]*/)?Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[^"]*)?"')


def patients_in(entities: list[str], bodies: list[bytes | None]) -> set[str]:
    """Patients a change involves: Patient entities and every Patient the written bodies reference."""
    found = {ref for ref in entities if ref.startswith("Patient/")}
    for body in bodies:
        if body:
            found.update(f"Patient/{m.decode()}" for m in _PATIENT_REFERENCE.findall(body))
    return found


def _change_draft(access: Any, subtype: str, entities: list[str], bodies: list[bytes | None]) -> AuditEventDraft:
    """The change event of one transaction (``access``: the caller's AccessContext); the patients
    come from the stored bodies (no extra query inside the write's transaction)."""
    patients = patients_in(entities, bodies)
    if getattr(access, "patient", None):
        patients.add(f"Patient/{access.patient}")
    return AuditEventDraft(subtype=subtype, outcome="0", client_id=access.client_id, user_ref=access.user,
                           patients=patients, entities=entities)


async def record_change(trail: AuditTrail | None, conn: AsyncConnection[Any], access: Any, subtype: str,
                        entities: list[str], bodies: list[bytes | None]) -> None:
    if trail is None or not entities:
        return
    await trail.record_change(conn, _change_draft(access, subtype, entities, bodies))


def version_record(trail: AuditTrail, access: Any, subtype: str, version: Any) -> AuditRecord:
    """The change record of one written version, for a write that inserts it itself."""
    ref = f"{version.resource_type}/{version.id}"
    return trail.change_record(_change_draft(access, subtype, [ref], [version.body]))


async def record_versions(trail: AuditTrail | None, conn: AsyncConnection[Any], access: Any, subtype: str,
                          versions: list[Any]) -> None:
    """``record_change`` for the versions a write returned (``resources.versions.Version``)."""
    await record_change(trail, conn, access, subtype, [f"{v.resource_type}/{v.id}" for v in versions],
                        [v.body for v in versions])


WRITE_METHODS = {"PUT", "PATCH", "DELETE"}


def _is_recorded_write(method: str, path: str, status: int) -> bool:
    """Successful changes were recorded in their own transaction."""
    if status >= 400 or not path.startswith("/fhir"):
        return False
    if method in WRITE_METHODS:
        return True
    if method != "POST":
        return False
    tail = path[len("/fhir"):].strip("/")
    return tail == "" or ("/" not in tail and not tail.startswith("$"))


def _subtype(method: str, path: str) -> tuple[str, list[str], set[str]]:
    """(interaction code, entity refs, patients) from the request line."""
    if path.startswith("/auth/"):
        return path.rsplit("/", 1)[-1], [], set()
    if method == "POST" and path.rstrip("/") == "/fhir":
        return "transaction", [], set()
    if "$" in path:
        subtype = "operation"
    elif path.rstrip("/").endswith("_history") or "/_history/" in path:
        subtype = "vread" if "/_history/" in path else "history"
    elif method == "POST" and path.endswith("/_search"):
        subtype = "search-type"
    else:
        subtype = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method, "read")
    match = _INSTANCE.match(path)
    if match is None or match.group(2).startswith(("$", "_")):
        if subtype == "read":
            subtype = "search-system" if path.rstrip("/") == "/fhir" else "search-type"
        return subtype, [], set()
    rtype, rid, rest = match.groups()
    ref = f"{rtype}/{rid}"
    if rest and rest.count("/") == 1 and subtype == "read":  # compartment search Patient/x/Observation
        subtype = "search-type"
    return subtype, [ref], {ref} if rtype == "Patient" else set()


def _outcome(status: int) -> str:
    if status < 400:
        return "0"
    return "12" if status >= 500 else "4"


class AuditMiddleware:
    """Records every FHIR and OAuth request that its transaction did not already record."""

    def __init__(self, app: ASGIApp, trail_of: Any) -> None:
        self.app = app
        self.trail_of = trail_of  # () -> AuditTrail | None (created in the lifespan)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path.startswith("/fhir") or path in ("/auth/token", "/auth/revoke", "/auth/introspect")) \
                or path == "/fhir/metadata" or path.startswith("/fhir/.well-known/"):
            await self.app(scope, receive, send)
            return
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            trail = self.trail_of()
            if trail is not None and not _is_recorded_write(scope["method"], path, status):
                record_request(trail, scope, status)


def record_request(trail: AuditTrail, scope: Scope, status: int) -> None:
    """Record a request that changed nothing, after its response (``scope["state"]`` holds its policy)."""
    trail.record_later(_draft(scope, scope["path"], status))


def _draft(scope: Scope, path: str, status: int) -> AuditEventDraft:
    subtype, entities, patients = _subtype(scope["method"], unquote(path))
    state = scope.get("state", {})
    policy = state.get("policy")
    access = getattr(policy, "access", None)
    if access is not None and access.patient:
        patients.add(f"Patient/{access.patient}")
    query = scope.get("query_string", b"").decode("latin-1") or None
    client = scope.get("client")
    return AuditEventDraft(
        subtype=subtype, outcome=_outcome(status), outcome_desc=None if status < 400 else f"HTTP {status}",
        client_id=getattr(access, "client_id", None) or state.get("audit_client"),
        user_ref=getattr(access, "user", None), patients=patients,
        entities=entities, query=f"{scope['method']} {path}?{query}" if query else None,
        request_id=current_request_id(), address=client[0] if client else None)
