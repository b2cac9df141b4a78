"""SMART scopes: pure parsing and matching, no I/O.

Implements the scope grammar of SMART App Launch 2.2, "Scopes and Launch Context"
(https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html):

- v2 resource scopes ``<context>/<ResourceType|*>.<cruds>[?param=value&...]`` where the
  permission letters are a non-empty subsequence of ``c r u d s`` in that order, and the
  optional query makes the scope *granular* (e.g. ``patient/Observation.rs?category=...``);
- v1 resource scopes ``<context>/<ResourceType|*>.<read|write|*>`` (``read`` = ``rs``,
  ``write`` = ``cud``, ``*`` = ``cruds``, per "Scopes for requesting FHIR resources" and
  the v1 -> v2 table in the same page);
- the launch-context and identity scopes ``launch``, ``launch/patient``,
  ``launch/encounter``, ``openid``, ``fhirUser``, ``profile``, ``offline_access``,
  ``online_access``.

Contexts are ``patient``, ``user`` and ``system`` (Backend Services,
https://hl7.org/fhir/smart-app-launch/backend-services.html#scopes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

__all__ = [
    "CONTEXTS", "INTERACTIONS", "ResourceScope", "ScopeSet", "parse_scope", "parse_scopes",
    "scope_covers", "narrow_to_allowed",
]

CONTEXTS = ("patient", "user", "system")
INTERACTIONS = "cruds"  # create, read, update, delete, search: the only legal order
V1_PERMISSIONS = {"read": "rs", "write": "cud", "*": "cruds"}
IDENTITY_SCOPES = frozenset({"openid", "fhirUser", "profile", "offline_access", "online_access",
                             "launch", "launch/patient", "launch/encounter"})
_SCOPE = re.compile(r"^(patient|user|system)/(\*|[A-Z][A-Za-z]{1,63})\.([a-z*]+)(?:\?(.+))?$")
_V2_PERMISSION = re.compile(r"^c?r?u?d?s?$")


@dataclass(frozen=True)
class ResourceScope:
    """One resource scope, normalised to v2 letters; ``query`` holds granular search params."""

    context: str  # patient | user | system
    resource_type: str  # a FHIR type or "*"
    interactions: frozenset[str]  # subset of {"c", "r", "u", "d", "s"}
    query: tuple[tuple[str, str], ...] = ()  # sorted (param, value) pairs; () = no restriction
    text: str = field(default="", compare=False)  # the scope as the client wrote it
    v1: bool = field(default=False, compare=False)

    def matches(self, context_kind: str | None, resource_type: str, interaction: str) -> bool:
        return ((context_kind is None or self.context == context_kind)
                and self.resource_type in ("*", resource_type)
                and interaction in self.interactions)


def parse_scope(text: str) -> ResourceScope | None:
    """A resource scope, or None when ``text`` is not one (identity scopes, junk)."""
    match = _SCOPE.match(text)
    if not match:
        return None
    context, resource_type, permission, query = match.groups()
    v1 = permission in V1_PERMISSIONS
    if v1:
        if query:
            return None  # granular filters exist only in v2
        letters = V1_PERMISSIONS[permission]
    elif _V2_PERMISSION.match(permission) and permission:
        letters = permission
    else:
        return None
    params: tuple[tuple[str, str], ...] = ()
    if query:
        pairs = parse_qsl(query, keep_blank_values=False, strict_parsing=False)
        if not pairs:
            return None
        params = tuple(sorted(pairs))
    return ResourceScope(context, resource_type, frozenset(letters), params, text, v1)


def scope_covers(granted: ResourceScope, requested: ResourceScope) -> bool:
    """True when every access ``requested`` allows is also allowed by ``granted``.

    A granular grant covers only a request with the same filter: a different filter
    could select rows the grant hides.
    """
    return (granted.context == requested.context
            and granted.resource_type in ("*", requested.resource_type)
            and requested.interactions <= granted.interactions
            and (not granted.query or granted.query == requested.query))


@dataclass(frozen=True)
class ScopeSet:
    """The scopes of one token or request, parsed once."""

    resource_scopes: tuple[ResourceScope, ...] = ()
    others: frozenset[str] = frozenset()  # identity/launch scopes and anything unrecognised
    unrestricted: bool = False  # the "auth off" development context: everything allowed

    @classmethod
    def everything(cls) -> ScopeSet:
        return cls(unrestricted=True)

    # -- identity and launch flags -------------------------------------------------------
    def has(self, scope: str) -> bool:
        return scope in self.others

    @property
    def wants_refresh_token(self) -> bool:
        return self.has("offline_access") or self.has("online_access")

    @property
    def wants_id_token(self) -> bool:
        return self.has("openid") and (self.has("fhirUser") or self.has("profile"))

    def contexts(self) -> frozenset[str]:
        return frozenset(scope.context for scope in self.resource_scopes)

    # -- access decisions ----------------------------------------------------------------
    def allows(self, context_kind: str | None, resource_type: str, interaction: str) -> bool:
        """May ``interaction`` (c/r/u/d/s) on ``resource_type`` happen under ``context_kind``?

        ``context_kind`` None asks "under any context". A granular scope counts as allowing:
        the caller must also apply ``filters_for`` to restrict the rows.
        """
        if self.unrestricted:
            return True
        return any(s.matches(context_kind, resource_type, interaction) for s in self.resource_scopes)

    def filters_for(self, resource_type: str, interaction: str,
                    context_kind: str | None = None) -> list[list[tuple[str, str]]] | None:
        """Search-parameter filters the matching scopes impose.

        None: unrestricted (some matching scope has no filter). Otherwise an OR of
        AND-lists of ``(param, value)``; an empty list means nothing matches (deny).
        """
        if self.unrestricted:
            return None
        filters: list[list[tuple[str, str]]] = []
        for scope in self.resource_scopes:
            if not scope.matches(context_kind, resource_type, interaction):
                continue
            if not scope.query:
                return None
            if list(scope.query) not in filters:
                filters.append(list(scope.query))
        return filters

    def covers(self, requested: ResourceScope) -> bool:
        return self.unrestricted or any(scope_covers(g, requested) for g in self.resource_scopes)

    def to_list(self) -> list[str]:
        return [s.text for s in self.resource_scopes] + sorted(self.others)


def parse_scopes(text: str | Iterable[str] | None) -> ScopeSet:
    """Parse a space-separated scope string (or a list of scopes) into a ScopeSet."""
    items = text.split() if isinstance(text, str) else list(text or [])
    resources: list[ResourceScope] = []
    others: set[str] = set()
    for item in dict.fromkeys(items):  # de-duplicate, keep order
        parsed = parse_scope(item)
        if parsed is None:
            others.add(item)
        else:
            resources.append(parsed)
    return ScopeSet(tuple(resources), frozenset(others))


def narrow_to_allowed(requested: str | None, allowed: str) -> list[str]:
    """The requested scopes the ``allowed`` (registered or granted) scopes cover, in order.

    Identity scopes pass when listed verbatim; resource scopes pass when covered
    (so a client registered for ``patient/*.rs`` may ask for ``patient/Observation.read``).
    Unknown scopes are dropped: SMART lets a server grant less than was asked.
    """
    allowed_set = parse_scopes(allowed)
    out: list[str] = []
    for item in dict.fromkeys((requested or "").split()):
        parsed = parse_scope(item)
        if parsed is None:
            if item in IDENTITY_SCOPES and allowed_set.has(item):
                out.append(item)
        elif allowed_set.covers(parsed):
            out.append(item)
    return out
