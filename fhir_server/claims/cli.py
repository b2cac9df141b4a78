"""``fhir-server claims bind-insurer --client-id ID --organization ORG``: bind a Backend Services
client to the insurer Organization it acts for, so its ``system/`` tokens see only the claims,
ClaimResponses, ExplanationOfBenefits and eligibility resources whose ``insurer`` is
``Organization/ORG`` (smart_auth/insurer_rows.py). Prints one JSON object."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

__all__ = ["add_commands"]

ORGANIZATION_ID = re.compile(r"[A-Za-z0-9.-]{1,64}")


async def _bind(url: str, client_id: str, organization: str) -> bool:
    from ..db import Database
    from ..smart_auth.storage import bind_organization

    db = Database(url, 1, 2)
    await db.open()
    try:
        return await bind_organization(db, client_id, organization)
    finally:
        await db.close()


def add_commands(subparsers: Any, add_database_options: Callable[[argparse.ArgumentParser], None],
                 resolve_url: Callable[[argparse.Namespace], str]) -> None:
    claims = subparsers.add_parser("claims", help="claims (insurer side)").add_subparsers(dest="claims_command",
                                                                                         required=True)
    bind = claims.add_parser("bind-insurer", help="bind a Backend Services client to its insurer Organization")
    bind.add_argument("--client-id", required=True, help="the registered client (fhir-server client add)")
    bind.add_argument("--organization", required=True, help="the insurer's Organization id, e.g. payer-demo")
    add_database_options(bind)

    def run(args: argparse.Namespace) -> int:
        if not ORGANIZATION_ID.fullmatch(args.organization):
            print("error: --organization is an Organization id ([A-Za-z0-9.-]{1,64})")
            return 2
        from ..db import migrate

        url = resolve_url(args)
        migrate(url)
        if not asyncio.run(_bind(url, args.client_id, args.organization)):
            print(f"error: no client {args.client_id!r}")
            return 2
        print(json.dumps({"client_id": args.client_id, "organization": f"Organization/{args.organization}"}))
        return 0
    bind.set_defaults(handler=run)
