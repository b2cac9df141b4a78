"""R4 validation: ``validate_resource(resource, profiles=())`` -> issues (errors and warnings).

The base definition of the resource's type is always applied; each profile URL is just
another StructureDefinition (from the vendored definitions or registered from an IG
package with ``register``) walked the same way. Spec: http://hl7.org/fhir/R4/validation.html.
Slicing and fixed/pattern values of profiles are not evaluated yet: an applied profile
reports that limitation as a warning rather than claiming full conformance.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from ...definitions import definitions
from ...errors import Issue
from .elements import table_for_structure
from .invariants import InvariantChecker
from .structure import Walker

__all__ = ["validate_resource", "Validator", "register"]


class Validator:
    def __init__(self) -> None:
        self.checker = InvariantChecker()
        self.profiles: dict[str, dict[str, Any]] = dict(definitions().structure_definitions)
        self.resource_types = definitions().resource_types

    def register(self, structure_definition: dict[str, Any], url: str | None = None) -> None:
        """Make a profile (a StructureDefinition with a snapshot) available by its url (or ``url|version``)."""
        self.profiles[url or structure_definition["url"]] = structure_definition

    def _profile_issues(self, resource: dict[str, Any], url: str, walker: Walker) -> None:
        sd = self.profiles.get(url) or self.profiles.get(url.split("|", 1)[0])
        rtype = resource.get("resourceType")
        if sd is None:
            walker.issues.append(Issue("warning", "not-found", f"Profile {url} is not known to this server: "
                                       "validated against the base definition only", (str(rtype),)))
            return
        if sd.get("type") != rtype or "snapshot" not in sd:
            walker.issues.append(Issue("error", "invalid", f"Profile {url} does not apply to {rtype}", (str(rtype),)))
            return
        if sd.get("derivation") == "constraint":
            walker.resource(resource, "", table_for_structure(sd))
            walker.issues.append(Issue("information", "informational", f"Profile {url}: cardinality, types, "
                                       "bindings and invariants checked; slicing is not evaluated", (str(rtype),)))

    def validate(self, resource: Any, profiles: Sequence[str] = ()) -> list[Issue]:
        walker = Walker(self.checker, self.resource_types)
        walker.resource(resource, "")
        base_errors = any(i.severity in ("error", "fatal") for i in walker.issues)
        if isinstance(resource, dict) and not base_errors:
            for url in profiles:
                self._profile_issues(resource, url, walker)
        return _dedupe(walker.issues)


def _dedupe(issues: list[Issue]) -> list[Issue]:
    seen: set[Issue] = set()
    out = []
    for issue in issues:
        if issue not in seen:
            seen.add(issue)
            out.append(issue)
    return out


@cache
def _validator() -> Validator:
    return Validator()


def validate_resource(resource: Any, *, profiles: Sequence[str] = ()) -> list[Issue]:
    return _validator().validate(resource, profiles)


def register(structure_definition: dict[str, Any], url: str | None = None) -> None:
    _validator().register(structure_definition, url)
