"""Extensions checked against their definitions (http://hl7.org/fhir/R4/extensibility.html#use,
defining-extensions.html#context): the url names a known extension, the extension is used in
one of the contexts its definition allows, and its content conforms to the definition (value
type, sub-extensions, cardinalities; checked by ``profiles.ProfileChecker``).

Policy: an extension whose definition is unknown, or that is used outside the contexts its
definition lists, is an error in ``$validate`` (as the reference validator reports it) and a
warning on a write, which keeps it as sent (official R4 examples use example.org extensions and
core extensions outside their stated contexts). Content that contradicts a known definition is
an error on every path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...errors import Issue
from .profiles import ProfileChecker, profile_tree

__all__ = ["extension_issues", "Place"]

Resolver = Callable[[str], dict[str, Any] | None]
# Context expressions every element, backbone element or resource satisfies.
_ANY_ELEMENT = ("Element", "Base")
_ANY_RESOURCE = ("Resource", "DomainResource")


class Place:
    """Where an extension sits: the element's path (``Patient.name``) and type (``HumanName``)."""

    def __init__(self, element_path: str, type_name: str, is_resource: bool, parent_extension: str | None) -> None:
        self.element_path = element_path
        self.type_name = type_name
        self.is_resource = is_resource
        self.parent_extension = parent_extension

    def names(self) -> set[str]:
        names = {self.element_path, self.type_name, *_ANY_ELEMENT}
        if self.is_resource:
            names.update(_ANY_RESOURCE)
        elif "." in self.element_path and self.type_name == self.element_path:
            names.add("BackboneElement")
        return names


def _allowed(context: dict[str, Any], place: Place) -> bool:
    kind, expression = context.get("type"), str(context.get("expression", ""))
    if kind == "fhirpath":
        return True  # an expression over the instance: not evaluated here, so not refused
    if kind == "extension":
        return place.parent_extension == expression
    return expression in place.names()


def extension_issues(extension: dict[str, Any], place: Place, modifier: bool, unknown_severity: str,
                     resolve: Resolver, location: str) -> list[Issue]:
    url = extension.get("url")
    if not isinstance(url, str) or not url.startswith(("http:", "https:", "urn:")):
        return []  # a relative url is a sub-extension of a complex extension, checked with its parent
    definition = resolve(url)
    if definition is None or definition.get("type") != "Extension":
        severity = unknown_severity
        tail = "" if severity == "error" else ": kept as sent, its content is not checked"
        kind = "modifier extension" if modifier else "extension"
        return [Issue(severity, "not-found" if severity != "error" else "extension",
                      f"The {kind} {url} is not known to this server{tail}", (location,))]
    contexts = definition.get("context") or []
    if contexts and not any(_allowed(c, place) for c in contexts):
        allowed = ", ".join(str(c.get("expression")) for c in contexts[:5])
        # The R4 core definitions state narrower contexts than the specification's own content uses
        # (structuredefinition-fhir-type on ElementDefinition.type, translation on contains):
        # an error where exactness is asked for ($validate), a warning on a write.
        return [Issue(unknown_severity, "extension", f"The extension {url} may not be used on {place.element_path} "
                      f"(its definition allows: {allowed})", (location,))]
    if "snapshot" not in definition:
        return []
    issues: list[Issue] = []
    ProfileChecker(url, resolve, issues).children(profile_tree(definition), extension, location, in_slice=True)
    return issues
