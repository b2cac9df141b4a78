"""Rule modules: registering rules by importing modules, so every process has them.

``fhir-server serve`` (each worker) and ``fhir-server load`` (each worker process) call
``load_rule_modules`` at start-up with ``Settings.rule_modules`` (``FHIR_RULE_MODULES``):
the server's own workflow rule modules listed in ``KNOWN_RULE_MODULES``, then the named
extra ones (a hospital's own rules). A module registers its rules when imported.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

__all__ = ["KNOWN_RULE_MODULES", "load_rule_modules"]

# The workflow packages' rule modules (e.g. "fhir_server.scheduling.rules"), imported in every process.
KNOWN_RULE_MODULES: tuple[str, ...] = (
    "fhir_server.scheduling.rules",
    "fhir_server.pharmacy.rules",
    "fhir_server.laboratory.rules",
    "fhir_server.admissions.rules",
    "fhir_server.claims.rules",
    "fhir_server.billing.rules",
    "fhir_server.subscriptions.rules",
)


def load_rule_modules(extra: Iterable[str] = ()) -> list[str]:
    """Import the known rule modules and ``extra``; return the names imported. A module that
    cannot be imported stops start-up with its name (writes must never run without a rule)."""
    names = [*KNOWN_RULE_MODULES, *(n.strip() for n in extra if n.strip())]
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise SystemExit(f"Cannot import write rule module {name!r} (FHIR_RULE_MODULES): {exc}") from exc
    return names
