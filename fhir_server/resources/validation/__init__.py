"""R4 validation: ``validate_resource(resource, profiles=())`` -> issues (errors and warnings).

The base definition of the resource's type is always applied; each profile URL is just
another StructureDefinition (from the vendored definitions or registered from an IG
package with ``register``) walked the same way. Spec: http://hl7.org/fhir/R4/validation.html.
A profile is applied in two parts: the resource is walked with the profile's compiled table
(cardinality, types, required bindings and invariants outside slices), and ``profiles.py``
checks what only the element tree shows (slicing, fixed/pattern values, extensions, extensible
bindings, mustSupport).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from ...definitions import definitions
from ...errors import Issue
from .elements import table_for_structure
from .invariants import InvariantChecker
from .profiles import ProfileChecker, profile_tree
from .structure import Walker

__all__ = ["validate_resource", "Validator", "register", "configure"]


class Validator:
    def __init__(self) -> None:
        self.checker = InvariantChecker()
        self.profiles: dict[str, dict[str, Any]] = dict(definitions().structure_definitions)
        self.resource_types = definitions().resource_types
        # The hospital's policy (``configure``): profiles every resource of a type must meet,
        # and whether a claimed profile the server does not know is refused.
        self.required: dict[str, tuple[str, ...]] = {}
        self.reject_unknown = False

    def configure(self, required: dict[str, tuple[str, ...]], reject_unknown: bool) -> None:
        self.required, self.reject_unknown = dict(required), reject_unknown

    def profiles_for(self, resource: dict[str, Any], named: Sequence[str]) -> list[str]:
        """The profiles a resource is held to: those named (``$validate?profile=``), those it
        claims in ``meta.profile``, and those the server requires for its type."""
        meta = resource.get("meta")
        claimed = meta.get("profile") if isinstance(meta, dict) else None
        claims = [c for c in claimed if isinstance(c, str)] if isinstance(claimed, list) else []
        return list(dict.fromkeys([*named, *claims, *self.required.get(str(resource.get("resourceType")), ())]))

    def register(self, structure_definition: dict[str, Any], url: str | None = None) -> None:
        """Make a profile (a StructureDefinition with a snapshot) available by its url (or ``url|version``)."""
        self.profiles[url or structure_definition["url"]] = structure_definition

    def _profile_issues(self, resource: dict[str, Any], url: str, walker: Walker, must_support: bool) -> None:
        sd = self.resolve(url)
        rtype = resource.get("resourceType")
        if sd is None:
            severity = "error" if self.reject_unknown else "warning"
            tail = "" if self.reject_unknown else ": validated against the base definition only"
            walker.issues.append(Issue(severity, "not-found", f"Profile {url} is not known to this server{tail}",
                                       (str(rtype),)))
            return
        if sd.get("type") != rtype or "snapshot" not in sd:
            walker.issues.append(Issue("error", "invalid", f"Profile {url} does not apply to {rtype}", (str(rtype),)))
            return
        if sd.get("derivation") == "constraint":
            walker.resource(resource, "", table_for_structure(sd))
            checker = ProfileChecker(url, self.resolve, walker.issues, must_support)
            checker.check(profile_tree(sd), resource, str(rtype))

    def resolve(self, url: str) -> dict[str, Any] | None:
        """A StructureDefinition by canonical url (``url|version`` first, then the url alone)."""
        return self.profiles.get(url) or self.profiles.get(url.split("|", 1)[0])

    def validate(self, resource: Any, profiles: Sequence[str] = (), must_support: bool = False,
                 strict_extensions: bool = False) -> list[Issue]:
        walker = Walker(self.checker, self.resource_types, resolve=self.resolve,
                        unknown_extension="error" if strict_extensions else "warning")
        walker.resource(resource, "")
        base_errors = any(i.severity in ("error", "fatal") for i in walker.issues)
        if isinstance(resource, dict) and not base_errors:
            for url in self.profiles_for(resource, profiles):
                self._profile_issues(resource, url, walker, must_support)
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


def validate_resource(resource: Any, *, profiles: Sequence[str] = (), must_support: bool = False,
                      strict_extensions: bool = False) -> list[Issue]:
    """Issues of ``resource`` against its base definition and ``profiles``. ``$validate`` asks for
    more than a write does: ``must_support`` reports absent mustSupport elements of the profiles,
    ``strict_extensions`` makes an unknown extension an error (a write keeps it with a warning)."""
    return _validator().validate(resource, profiles, must_support, strict_extensions)


def configure(required: dict[str, tuple[str, ...]], reject_unknown: bool) -> None:
    """Set the write policy of this process (start-up of ``serve`` and ``load``)."""
    _validator().configure(required, reject_unknown)


def register(structure_definition: dict[str, Any], url: str | None = None) -> None:
    _validator().register(structure_definition, url)
