"""``fhir-server billing prices load FILE.csv|FILE.json``: the price list as ChargeItemDefinitions.

Columns in ``prices.py`` (system, code, display, amount, currency). Every row is written with a
PUT to its deterministic id, through the resource layer (validation, write rules, audit), all in
one transaction: a bad row loads nothing. Prints one JSON object: ``{"loaded": N}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["add_commands", "load_prices"]


async def load_prices(url: str, path: Path) -> int:
    # Imported here: ``fhir-server --help`` and the other subcommands need none of the write path.
    from ..db import Database
    from ..resources.service import ResourceService
    from ..scheduling.writes import unit_of_work
    from ..search import indexer
    from ..smart_auth.policy import OPEN_POLICY
    from .prices import definitions_from_file

    definitions = definitions_from_file(path)
    db = Database(url, 1, 2)
    await db.open()
    try:
        async with unit_of_work(ResourceService(db, indexer), OPEN_POLICY) as writes:
            for definition in definitions:
                await writes.update("ChargeItemDefinition", definition["id"], definition)
    finally:
        await db.close()
    return len(definitions)


def add_commands(subparsers: Any, add_database_options: Callable[[argparse.ArgumentParser], None],
                 resolve_url: Callable[[argparse.Namespace], str]) -> None:
    billing = subparsers.add_parser("billing", help="billing: the price list").add_subparsers(
        dest="billing_command", required=True)
    prices = billing.add_parser("prices", help="the price list (ChargeItemDefinitions)").add_subparsers(
        dest="prices_command", required=True)
    load = prices.add_parser("load", help="load a price list file (.csv or .json: system,code,display,amount,currency)")
    load.add_argument("file", type=Path)
    add_database_options(load)

    def run(args: argparse.Namespace) -> int:
        from ..config import load_settings
        from ..db import migrate
        from ..errors import FhirError
        from ..rules import load_rule_modules

        if not args.file.is_file():
            print(f"error: {args.file} is not a file")
            return 2
        url = resolve_url(args)
        migrate(url)
        load_rule_modules(load_settings().rule_modules)
        try:
            count = asyncio.run(load_prices(url, args.file))
        except FhirError as exc:
            print(f"error: {exc.message}")
            return 1
        print(json.dumps({"loaded": count}))
        return 0
    load.set_defaults(handler=run)
