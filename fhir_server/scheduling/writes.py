"""Several resource writes in one transaction, through the resource layer (so the write rules,
scope checks, validation and audit apply exactly as for REST): what $book, $hold, $cancel and
$generate-slots are made of. http://hl7.org/fhir/R4/http.html#transaction
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from psycopg import AsyncConnection

from ..audit.trail import record_versions
from ..resources import interactions
from ..resources.interactions import Patcher
from ..resources.service import ResourceService
from ..rules.context import writing_as
from ..smart_auth.policy import OPEN_POLICY, Policy

__all__ = ["Writes", "unit_of_work", "content"]


def content(version: Any) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(version.body)
    return value


class Writes:
    """The writes of one unit of work; each is audited like the REST interaction it stands for."""

    def __init__(self, service: ResourceService, conn: AsyncConnection[Any], policy: Policy) -> None:
        self.service, self.conn, self.policy = service, conn, policy

    async def _audit(self, subtype: str, version: Any) -> None:
        await record_versions(self.service.trail, self.conn, self.policy.access, subtype, [version])

    async def create(self, rtype: str, body: dict[str, Any], on_behalf: bool = False) -> dict[str, Any]:
        """``on_behalf``: a record the server writes as a consequence of an allowed write (the
        AppointmentResponses of a booking), not subject to the caller's scopes; still audited."""
        policy = OPEN_POLICY if on_behalf else self.policy
        try:
            outcome = await interactions.create(self.conn, self.service.indexer, rtype, body, policy=policy)
        finally:
            writing_as(self.policy)  # the caller stays the writer of what follows
        await self._audit("create", outcome.version)
        return content(outcome.version)

    async def update(self, rtype: str, rid: str, body: dict[str, Any]) -> dict[str, Any]:
        outcome = await interactions.update(self.conn, self.service.indexer, rtype, rid, body, policy=self.policy)
        await self._audit("update", outcome.version)
        return content(outcome.version)

    async def patch(self, rtype: str, rid: str, apply: Patcher) -> dict[str, Any]:
        outcome = await interactions.patch(self.conn, self.service.indexer, rtype, rid, None, apply,
                                           policy=self.policy)
        await self._audit("patch", outcome.version)
        return content(outcome.version)


@asynccontextmanager
async def unit_of_work(service: ResourceService, policy: Policy) -> AsyncIterator[Writes]:
    """One transaction: every write in it commits together or not at all."""
    async with service.db.transaction(pipelined=True) as conn:  # writes whose results are rarely read back
        yield Writes(service, conn, policy)
