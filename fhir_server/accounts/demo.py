"""The demo hospital's administrator: the Practitioner that the demo account ``admin.demo``
(role ``admin``, ``smart_auth.cli.DEMO_STAFF``) signs in as."""

from __future__ import annotations

from typing import Any

from ..resources.service import ResourceService

__all__ = ["ACCOUNTS_DEMO", "load_accounts_demo"]

ACCOUNTS_DEMO: list[dict[str, Any]] = [
    {"resourceType": "Practitioner", "id": "demo-admin", "active": True,
     "name": [{"use": "official", "family": "Lindqvist", "given": ["Sara"]}],
     "text": {"status": "generated",
              "div": '<div xmlns="http://www.w3.org/1999/xhtml">Sara Lindqvist, hospital administrator</div>'}},
]


async def load_accounts_demo(service: ResourceService) -> int:
    """Write the administrator's Practitioner if it is missing; how many were written."""
    return await service.write_missing(ACCOUNTS_DEMO)
