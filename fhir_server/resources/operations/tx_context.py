"""What the terminology operations share: the ValueSets, CodeSystems and ConceptMaps stored in
the server (by id through the resource service, by url through search, both under the
caller's access policy) found before the process-wide ones, and the code systems loaded into
PostgreSQL (``fhir-server terminology load``).

http://hl7.org/fhir/R4/terminology-service.html. The engine is synchronous; when a loaded
code system is present it runs in a worker thread that queries through this request's
connection (``terminology.store``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import orjson
from fastapi import Request
from psycopg import AsyncConnection

from ...errors import NotFound
from ...search.service import SearchOptions, search
from ...smart_auth.policy import policy_of
from ...terminology import Expander, Membership, Sources
from ...terminology.sources import split_canonical
from ...terminology.store import DbCodeSystem, refresh_loaded

__all__ = ["Tx", "terminology_context"]

T = TypeVar("T")
REFERENCE_DEPTH = 8


def _escape(url: str) -> str:
    return url.replace("\\", "\\\\").replace(",", "\\,")


def _references(value_set: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(value set urls, code system urls) a ValueSet's compose refers to."""
    value_sets: set[str] = set()
    systems: set[str] = set()
    compose = value_set.get("compose")
    if isinstance(compose, dict):
        for item in [*(compose.get("include") or []), *(compose.get("exclude") or [])]:
            if isinstance(item, dict):
                value_sets.update(u for u in item.get("valueSet") or [] if isinstance(u, str))
                if isinstance(item.get("system"), str):
                    systems.add(item["system"])
    return value_sets, systems


class Tx:
    def __init__(self, request: Request, conn: AsyncConnection[Any], loaded: dict[str, dict[str, Any]]) -> None:
        self.request = request
        self.conn = conn
        self.loaded = loaded
        self.sources = Sources()
        # Views over PostgreSQL-held systems may only be queried inside run() (a worker thread):
        # on the event loop's own thread their blocking bridge would wait for itself.
        loop = asyncio.get_running_loop()
        self.sources.loaded = {url: DbCodeSystem(header, conn, loop) for url, header in loaded.items()}
        self.limit: int = request.app.state.settings.max_expansion

    async def by_id(self, rtype: str, rid: str) -> dict[str, Any]:
        version = await self.request.app.state.resources.read(rtype, rid, policy_of(self.request))
        resource: dict[str, Any] = orjson.loads(version.body or b"{}")
        self.sources.add(resource)
        return resource

    async def by_url(self, rtype: str, urls: set[str]) -> list[dict[str, Any]]:
        """Stored resources with these canonical urls (``url|version`` matched on version too)."""
        policy = policy_of(self.request)
        if not urls or not policy.allows(rtype, "s"):
            # Without a scope on the type, stored ones are invisible; the process-wide ones remain.
            return []
        settings = self.request.app.state.settings
        bases = sorted({split_canonical(u)[0] for u in urls})
        items = [("url", ",".join(_escape(u) for u in bases)), ("_count", str(settings.max_page_size))]
        result = await search(self.conn, [rtype], items, SearchOptions(settings.public_base, 100,
                              settings.max_page_size), access=policy)
        found = [orjson.loads(row[2]) for row in result.matches]
        for resource in found:
            self.sources.add(resource)
        return found

    async def prefetch(self, value_sets: list[dict[str, Any]]) -> None:
        """Make the stored value sets and code systems these value sets refer to known (transitively)."""
        seen_vs: set[str] = set()
        seen_cs: set[str] = set()
        todo = value_sets
        for _ in range(REFERENCE_DEPTH):
            nested: set[str] = set()
            systems: set[str] = set()
            for value_set in todo:
                more_vs, more_cs = _references(value_set)
                nested |= more_vs - seen_vs
                systems |= more_cs - seen_cs
            seen_vs |= nested
            seen_cs |= systems
            await self.by_url("CodeSystem", systems)
            todo = await self.by_url("ValueSet", nested)
            if not todo:
                return

    async def value_set(self, url: str) -> dict[str, Any]:
        await self.by_url("ValueSet", {url})
        found = self.sources.value_set(url)
        if found is None:
            raise NotFound(f"ValueSet {url} is not known to this server")
        return found

    def expander(self) -> Expander:
        return Expander(self.sources, self.limit)

    def membership(self) -> Membership:
        return Membership(self.sources)

    async def run(self, work: Callable[[], T]) -> T:
        """Run engine work: inline, or in a thread when PostgreSQL-held code systems may be asked."""
        if not self.loaded:
            return work()
        return await asyncio.to_thread(work)


@asynccontextmanager
async def terminology_context(request: Request) -> AsyncIterator[Tx]:
    async with request.app.state.db.connection() as conn:
        yield Tx(request, conn, await refresh_loaded(conn))
