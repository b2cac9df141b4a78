"""``fhir-server slots generate --horizon-days N``: Slots for every active Schedule, from today
(in ``FHIR_TIMEZONE``) for N days, exactly as ``Schedule/[id]/$generate-slots`` makes them
(idempotent; booked Slots untouched). Prints one JSON object: the counts per Schedule."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..config import load_settings

__all__ = ["add_commands"]


async def _generate_all(url: str, days: int, minutes: int) -> dict[str, Any]:
    # Imported here: ``fhir-server --help`` and the other subcommands need none of the write path.
    from ..db import Database
    from ..errors import FhirError
    from ..resources.service import ResourceService
    from ..search import indexer
    from ..smart_auth.policy import OPEN_POLICY
    from .generate_slots import generate
    from .writes import unit_of_work

    settings = load_settings()
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    db = Database(url, 1, 2)
    await db.open()
    try:
        async with db.connection() as conn:
            cur = await conn.execute("SELECT id FROM resource WHERE resource_type = 'Schedule' AND version_id > 0"
                                     " AND NOT deleted AND coalesce(content->>'active', 'true') <> 'false'"
                                     " ORDER BY id")
            ids = [row[0] for row in await cur.fetchall()]
        service, out = ResourceService(db, indexer), dict[str, Any]()
        for sid in ids:
            try:
                async with unit_of_work(service, OPEN_POLICY) as writes:
                    out[sid] = await generate(writes, sid, today, today + timedelta(days=days - 1),
                                              settings.timezone, minutes)
            except FhirError as exc:  # e.g. a Schedule without availability: reported, the others go on
                out[sid] = {"error": exc.message}
        return out
    finally:
        await db.close()


def add_commands(subparsers: Any, add_database_options: Callable[[argparse.ArgumentParser], None],
                 resolve_url: Callable[[argparse.Namespace], str]) -> None:
    slots = subparsers.add_parser("slots", help="scheduling Slots").add_subparsers(dest="slots_command",
                                                                                  required=True)
    gen = slots.add_parser("generate", help="generate Slots from availability for every active Schedule")
    gen.add_argument("--horizon-days", type=int, required=True, help="days ahead, from today (1..366)")
    gen.add_argument("--slot-minutes", type=int, default=60, help="slot length (default 60)")
    add_database_options(gen)

    def run(args: argparse.Namespace) -> int:
        if not 1 <= args.horizon_days <= 366:
            print("error: --horizon-days must be 1..366")
            return 2
        from ..db import migrate
        from ..rules import load_rule_modules

        url = resolve_url(args)
        migrate(url)
        load_rule_modules(load_settings().rule_modules)
        print(json.dumps(asyncio.run(_generate_all(url, args.horizon_days, args.slot_minutes)), indent=1))
        return 0
    gen.set_defaults(handler=run)
