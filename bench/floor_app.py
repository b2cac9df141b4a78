"""The floor for bench/core_bench.py: the same HTTP stack and database as fhir_server, no FHIR logic.

What it measures: the cost every FHIR server on this stack pays anyway (uvicorn, FastAPI routing,
a psycopg ``AsyncConnectionPool`` round trip to the same PostgreSQL), so the real server's figures
can be read as a ratio to it instead of as absolute numbers that drift on a shared machine.

- ``GET /fhir/{type}/{id}`` returns the served text (``body``, else ``content::text``) of the stored
  row in the server's ``resource`` table, byte for byte, as ``application/fhir+json`` (the "read floor").
- ``POST /fhir/{type}`` inserts the request body as-is into the scratch table ``bench_floor_create``
  (jsonb, no validation, no history, no index) and answers 201 with the body (the "create floor").

Pool and uvicorn settings mirror ``fhir_server`` (``db.Database`` and ``cli._serve``): pool 2..20,
autocommit, ``prepare_threshold=5``, one worker, default loop/http (uvloop/httptools), no access log.

Run: ``python bench/floor_app.py --port 8090 --database-url postgresql://...``
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.responses import Response

FHIR_JSON = "application/fhir+json"
SCRATCH_DDL = ("CREATE TABLE IF NOT EXISTS bench_floor_create "
               "(resource_type text NOT NULL, content jsonb NOT NULL)")
READ_SQL = "SELECT coalesce(body, content::text) FROM resource WHERE resource_type = %s AND id = %s"
INSERT_SQL = "INSERT INTO bench_floor_create (resource_type, content) VALUES (%s, %s::jsonb)"
NOT_FOUND = b'{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found"}]}'


def create_floor_app(database_url: str, pool_min: int = 2, pool_max: int = 20) -> FastAPI:
    """A FastAPI app with the two floor routes over one connection pool."""
    pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
        database_url, min_size=pool_min, max_size=pool_max, open=False,
        kwargs={"autocommit": True, "prepare_threshold": 5})

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=True, timeout=30)
        async with pool.connection() as conn:
            await conn.execute(SCRATCH_DDL)  # type: ignore[arg-type]
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/fhir/{rtype}/{rid}")
    async def read(rtype: str, rid: str) -> Response:
        async with pool.connection() as conn:
            cur = await conn.execute(READ_SQL, (rtype, rid))  # type: ignore[arg-type]
            row = await cur.fetchone()
        if row is None or row[0] is None:  # absent, or a delete tombstone
            return Response(NOT_FOUND, status_code=404, media_type=FHIR_JSON)
        return Response(row[0].encode(), media_type=FHIR_JSON)

    @app.post("/fhir/{rtype}")
    async def create(rtype: str, request: Request) -> Response:
        body = await request.body()
        async with pool.connection() as conn:
            await conn.execute(INSERT_SQL, (rtype, body.decode()))  # type: ignore[arg-type]
        return Response(body, status_code=201, media_type=FHIR_JSON)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="bare FastAPI+psycopg floor for bench/core_bench.py")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args()
    # Same call as fhir_server.cli._serve: one worker, default loop and HTTP parser, no access log.
    uvicorn.run(create_floor_app(args.database_url), host=args.host, port=args.port,
                log_level="info", access_log=False)


if __name__ == "__main__":
    main()
