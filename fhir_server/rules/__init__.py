"""Write rules: the one extension point of the write path (docs/rules.md).

A rule is registered per resource type (or "*") and called by the resource layer inside the
write's own transaction for every path that writes (REST, PATCH, conditional writes, every
bundle entry, ``fhir-server load``), with the old and new version. It may refuse (raise a
``FhirError``) or write side rows; a unique or exclusion violation of its side tables is a
409. ``rules`` imports neither ``resources`` nor ``exchange``: they import it.
"""

from .change import Change, Interaction
from .conflicts import CreateTest, Registration, Rule
from .loading import KNOWN_RULE_MODULES, load_rule_modules
from .registry import DEFAULT_ORDER, REGISTRY, Registry, create_needs_rules, has_rules, register, run

__all__ = ["Change", "Interaction", "Rule", "CreateTest", "Registration", "Registry", "REGISTRY", "DEFAULT_ORDER",
           "register", "has_rules", "create_needs_rules", "run", "KNOWN_RULE_MODULES", "load_rule_modules"]
