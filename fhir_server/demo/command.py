"""``fhir-server demo load`` and ``fhir-server demo bundle``: the demo data set into any
database, or into a transaction Bundle file for ``fhir-server load``."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from ..db import Database, migrate
from ..definitions import definitions
from ..jsonio import dumps
from ..resources.service import ResourceService
from ..search import indexer
from ..smart_auth import demo_setup
from . import demo_bundle, load_demo

__all__ = ["run_demo_load", "write_demo_bundle"]


def run_demo_load(url: str, with_users: bool) -> int:
    """Write the missing demo resources (and the demo users and app); print what was done."""
    migrate(url)
    definitions()

    async def run() -> int:
        db = Database(url, 1, 2)
        await db.open()
        try:
            written = await load_demo(ResourceService(db, indexer))
            if with_users:
                await demo_setup(db)
            return written
        finally:
            await db.close()

    written = asyncio.run(run())
    print(f"demo data: wrote {written} resources ({'none were missing' if not written else 'the missing ones'})")
    if with_users:
        print("demo users dr.demo and amy (password demo-password), demo app demo-app")
    return 0


def write_demo_bundle(path: str) -> int:
    data = dumps(demo_bundle())
    if path == "-":
        sys.stdout.buffer.write(data + b"\n")
        return 0
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        print(f"error: cannot write {path}: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"wrote {path}: a transaction Bundle of {len(demo_bundle()['entry'])} resources")
    return 0
