"""The registry of write rules, per resource type and for every type ("*").

Rules run in ascending ``order``; rules of equal order run in registration order, whichever
of them were registered for the type or for "*". ``has_rules`` is what the fast paths ask
(one lookup) before they skip the general write path. See docs/rules.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import count
from typing import Any

from psycopg import AsyncConnection

from .change import Change
from .conflicts import CreateTest, Registration, Rule, call_rule

__all__ = ["Registry", "REGISTRY", "register", "has_rules", "create_needs_rules", "run", "DEFAULT_ORDER"]

ALL_TYPES = "*"
DEFAULT_ORDER = 100


class Registry:
    def __init__(self) -> None:
        self._registrations: dict[tuple[str, str], Registration] = {}
        self._seq = count()
        self._by_type: dict[str, tuple[Registration, ...]] = {}
        self._ruled: frozenset[str] = frozenset()
        self._for_all = False

    def register(self, resource_type: str, rule: Rule, *, order: int = DEFAULT_ORDER, name: str | None = None,
                 conflicts: Mapping[str, str] | None = None, creates: CreateTest | None = None) -> Registration:
        """Add ``rule`` for ``resource_type`` (or "*"). ``name`` defaults to the rule's qualified
        name; registering the same name for the same type again replaces it (a re-imported module
        does not run its rules twice). ``conflicts``: constraint name -> the 409 message.
        ``creates``: a pure test of a new resource, False when a create of it needs no rule run
        (see ``create_needs_rules``); None: every create runs the rule."""
        name = name or f"{rule.__module__}.{rule.__qualname__}"
        registration = Registration(resource_type, rule, name, order, next(self._seq), dict(conflicts or {}),
                                    creates)
        self._registrations[(resource_type, name)] = registration
        self._rebuild()
        return registration

    def unregister(self, registration: Registration) -> None:
        self._registrations.pop((registration.resource_type, registration.name), None)
        self._rebuild()

    def _rebuild(self) -> None:
        """Precompute each type's ordered rules, so the write path only looks them up."""
        everything = [r for r in self._registrations.values() if r.resource_type == ALL_TYPES]
        types = {r.resource_type for r in self._registrations.values()} - {ALL_TYPES}
        self._by_type = {t: tuple(sorted([*everything, *(r for r in self._registrations.values()
                                                         if r.resource_type == t)], key=lambda r: r.sort_key))
                         for t in types}
        self._by_type[ALL_TYPES] = tuple(sorted(everything, key=lambda r: r.sort_key))
        self._ruled = frozenset(types)
        self._for_all = bool(everything)

    def has_rules(self, resource_type: str) -> bool:
        return self._for_all or resource_type in self._ruled

    def create_needs_rules(self, resource_type: str, resource: Mapping[str, Any]) -> bool:
        """Must a create of ``resource`` run rules? False when the type has none, or when each of
        its rules declared (``creates``) that it does nothing for this create: then the bulk create
        paths may store it (a Synthea load's finished Encounters)."""
        if not self.has_rules(resource_type):
            return False
        return any(r.needed_by_create(resource) for r in self.rules_for(resource_type))

    def rules_for(self, resource_type: str) -> tuple[Registration, ...]:
        return self._by_type.get(resource_type) or self._by_type.get(ALL_TYPES, ())

    async def run(self, conn: AsyncConnection[Any], change: Change) -> None:
        """Every rule for the change's type, in order, on the write's own connection. The first
        refusal (a FhirError) stops the write; the caller's transaction rolls everything back."""
        for registration in self.rules_for(change.resource_type):
            await call_rule(conn, registration, change)


# The process's registry: filled by importing rule modules (``load_rule_modules``).
REGISTRY = Registry()
register = REGISTRY.register
has_rules = REGISTRY.has_rules
create_needs_rules = REGISTRY.create_needs_rules
run = REGISTRY.run
