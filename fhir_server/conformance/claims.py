"""What the loaded IG packages let the CapabilityStatement claim
(http://hl7.org/fhir/R4/capabilitystatement-definitions.html#CapabilityStatement.implementationGuide,
#CapabilityStatement.rest.resource.supportedProfile, #CapabilityStatement.instantiates):
each package's ImplementationGuide, the resource profiles it defines by type, and the server
CapabilityStatements it publishes (US Core's ``us-core-server``) as ``instantiates``.
Canonicals carry ``|version`` because several versions of one guide may be loaded together.
"""

from __future__ import annotations

from ..resources.capability import Guides
from .catalog import Catalog

__all__ = ["claims_of"]


def claims_of(catalog: Catalog) -> Guides:
    guides: list[str] = []
    profiles: dict[str, list[str]] = {}
    instantiates: list[str] = []
    for package in catalog.packages:
        for guide in package.of_type("ImplementationGuide")[:1]:
            if guide.get("url"):
                guides.append(f"{guide['url']}|{guide.get('version') or package.version}")
        for sd in package.of_type("StructureDefinition"):
            if sd.get("kind") == "resource" and sd.get("derivation") == "constraint" and sd.get("url") \
                    and sd.get("type"):
                profiles.setdefault(sd["type"], []).append(f"{sd['url']}|{sd.get('version') or package.version}")
        for statement in package.of_type("CapabilityStatement"):
            modes = {rest.get("mode") for rest in statement.get("rest") or ()}
            if "server" in modes and statement.get("url"):
                instantiates.append(f"{statement['url']}|{statement.get('version') or package.version}")
    return Guides(guides, {t: sorted(urls) for t, urls in sorted(profiles.items())}, instantiates)
