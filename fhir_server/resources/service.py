"""Resource interactions as one call each, each in its own transaction: the routes' only collaborator.

The work itself lives in ``interactions`` (shared with bundle entries); this class only
opens the transaction (``retry.in_transaction``: re-run on deadlock) or a read connection around it.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from ..audit.recorder import cte_values, insert_cte
from ..audit.trail import AuditTrail, record_versions, version_record
from ..db import Database
from ..errors import FhirError, Gone, NotFound
from ..retry import in_transaction
from ..rules import has_rules, load_rule_modules
from ..smart_auth.policy import OPEN_POLICY, Policy
from . import interactions, repository
from .interactions import Patcher, WriteOutcome, check_type
from .repository import Indexer
from .versions import Version

__all__ = ["ResourceService"]


class ResourceService:
    def __init__(self, db: Database, indexer: Indexer, trail: AuditTrail | None = None) -> None:
        self.db = db
        self.indexer = indexer
        self.trail = trail  # changes are audited inside their own transaction
        # The workflow packages' rules hold in every process that writes through the service
        # (the server, `demo load`, `slots generate`), not only where start-up remembered them.
        load_rule_modules()

    async def _audit(self, conn: Any, policy: Policy, subtype: str, versions: list[Version]) -> None:
        await record_versions(self.trail, conn, policy.access, subtype, versions)

    async def read(self, rtype: str, rid: str, policy: Policy = OPEN_POLICY) -> Version:
        async with self.db.connection() as conn:
            await policy.check_visible(conn, check_type(rtype), rid, "r")
            return await repository.read(conn, rtype, rid)

    async def vread(self, rtype: str, rid: str, vid: str, policy: Policy = OPEN_POLICY) -> Version:
        async with self.db.connection() as conn:
            await policy.check_visible(conn, check_type(rtype), rid, "r")
            version = await repository.vread(conn, rtype, rid, vid)
            await policy.check_version_visible(conn, rtype, rid, version.version_id)
            return version

    async def create(self, rtype: str, body: Any, if_none_exist: str | None = None,
                     policy: Policy = OPEN_POLICY) -> WriteOutcome:
        if if_none_exist is None and not has_rules(rtype) and _nothing_to_check_after(policy, rtype):
            return await self._create_alone(rtype, body, policy)
        async def work(conn: AsyncConnection[Any]) -> WriteOutcome:
            outcome = await interactions.create(conn, self.indexer, rtype, body, if_none_exist, policy=policy)
            if outcome.created:
                await self._audit(conn, policy, "create", [outcome.version])
            return outcome
        return await in_transaction(self.db, work, pipelined=True)

    async def _create_alone(self, rtype: str, body: Any, policy: Policy) -> WriteOutcome:
        """A plain create: one statement writes it with its audit record (``repository.create_alone``)."""
        async with self.db.connection() as conn:
            resource, warnings = await interactions.prepare_create(conn, rtype, body, policy)
            also = None if self.trail is None else self._audit_cte(policy, "create")
            version = await repository.create_alone(conn, self.indexer, resource, also,
                                                    confirm=self.db.statement_committed)
            return WriteOutcome(version, True, warnings)

    def _audit_cte(self, policy: Policy, subtype: str) -> repository.AlsoWritten:
        trail = self.trail
        assert trail is not None

        def audit(version: Version, first: int) -> tuple[str, tuple[Any, ...]]:
            record = version_record(trail, policy.access, subtype, version)
            return insert_cte(first), cte_values(record)
        return audit

    async def update(self, rtype: str, rid: str, body: Any, if_match: str | None = None,
                     policy: Policy = OPEN_POLICY) -> WriteOutcome:
        async def work(conn: AsyncConnection[Any]) -> WriteOutcome:
            outcome = await interactions.update(conn, self.indexer, rtype, rid, body, if_match, policy)
            await self._audit(conn, policy, "update", [outcome.version])
            return outcome
        return await in_transaction(self.db, work)

    async def write_missing(self, resources: list[dict[str, Any]]) -> int:
        """PUT each of ``resources`` (with ids, in order) that is not stored yet; how many were
        written. What the demo data sets use: starting twice writes nothing twice."""
        written = 0
        for resource in resources:
            try:
                await self.read(resource["resourceType"], resource["id"])
            except (NotFound, Gone):
                await self.update(resource["resourceType"], resource["id"], resource)
                written += 1
        return written

    async def conditional_update(self, rtype: str, query: list[tuple[str, str]], body: Any,
                                 if_match: str | None = None, policy: Policy = OPEN_POLICY) -> WriteOutcome:
        async def work(conn: AsyncConnection[Any]) -> WriteOutcome:
            outcome = await interactions.conditional_update(conn, self.indexer, rtype, query, body, if_match, policy)
            await self._audit(conn, policy, "update", [outcome.version])
            return outcome
        return await in_transaction(self.db, work)

    async def patch(self, rtype: str, rid: str | None, query: list[tuple[str, str]] | None, apply: Patcher,
                    if_match: str | None = None, policy: Policy = OPEN_POLICY) -> WriteOutcome:
        async def work(conn: AsyncConnection[Any]) -> WriteOutcome:
            outcome = await interactions.patch(conn, self.indexer, rtype, rid, query, apply, if_match, policy)
            await self._audit(conn, policy, "patch", [outcome.version])
            return outcome
        return await in_transaction(self.db, work)

    async def delete(self, rtype: str, rid: str, if_match: str | None = None,
                     policy: Policy = OPEN_POLICY) -> Version | None:
        async def work(conn: AsyncConnection[Any]) -> Version | None:
            version = await interactions.delete(conn, self.indexer, rtype, rid, if_match, policy)
            await self._audit(conn, policy, "delete", [version] if version else [])
            return version
        return await in_transaction(self.db, work)

    async def conditional_delete(self, rtype: str, query: list[tuple[str, str]], max_matches: int,
                                 policy: Policy = OPEN_POLICY) -> list[Version]:
        async def work(conn: AsyncConnection[Any]) -> list[Version]:
            deleted = await interactions.conditional_delete(conn, self.indexer, rtype, query, max_matches, policy)
            await self._audit(conn, policy, "delete", deleted)
            return deleted
        return await in_transaction(self.db, work)


def _nothing_to_check_after(policy: Policy, rtype: str) -> bool:
    """True when no scope filter must be checked against the written row (``check_written``).
    Any refusal is left to the full path, which reports it in the spec's order."""
    if policy.open:
        return True
    try:
        return policy.predicate(check_type(rtype), "c") is None
    except FhirError:
        return False
