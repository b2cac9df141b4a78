"""``fhir-server user deactivate|activate USERNAME``: the blacklist from the command line
(blacklist.py: the account, its tokens, and a staff member's Practitioner.active)."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable
from typing import Any

__all__ = ["add_commands"]


async def _set_active(url: str, username: str, active: bool) -> dict[str, Any]:
    # Imported here: ``fhir-server --help`` and the other subcommands need none of the write path.
    from ..db import Database
    from ..resources.service import ResourceService
    from ..search import indexer
    from .blacklist import set_active

    db = Database(url, 1, 2)
    await db.open()
    try:
        return await set_active(ResourceService(db, indexer), username, active)
    finally:
        await db.close()


def add_commands(user_actions: Any, add_database_options: Callable[[argparse.ArgumentParser], None],
                 resolve_url: Callable[[argparse.Namespace], str]) -> None:
    """Add ``deactivate`` and ``activate`` to the ``user`` subcommands."""
    for name, active, text in (("deactivate", False, "blacklist a user: no sign-in, tokens revoked, "
                                "Practitioner.active=false for staff"),
                               ("activate", True, "lift the blacklist (old tokens stay revoked)")):
        parser = user_actions.add_parser(name, help=text)
        parser.add_argument("username")
        parser.add_argument("--json", action="store_true")
        add_database_options(parser)

        def run(args: argparse.Namespace, active: bool = active) -> int:
            from ..db import migrate
            from ..errors import FhirError

            url = resolve_url(args)
            migrate(url)
            try:
                result = asyncio.run(_set_active(url, args.username, active))
            except FhirError as exc:
                print(f"error: {exc.message}")
                return 2
            print(json.dumps(result))
            return 0
        parser.set_defaults(handler=run)
