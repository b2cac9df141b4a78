"""The write-rule registry (fhir_server/rules/registry.py): order, "*" rules, replacement, fast-path guards."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fhir_server import rules
from fhir_server.errors import ServerError
from fhir_server.resources import repository
from fhir_server.rules import Change, Registry


def _rule(label: str) -> rules.Rule:
    async def rule(conn: Any, change: Change) -> None:
        return None
    rule.__qualname__ = f"rule_{label}"
    return rule


def _names(registry: Registry, rtype: str) -> list[str]:
    return [r.name for r in registry.rules_for(rtype)]


def test_rules_run_by_order_then_registration_with_star_rules_merged() -> None:
    registry = Registry()
    registry.register("Basic", _rule("b30"), order=30, name="b30")
    registry.register("*", _rule("all20"), order=20, name="all20")
    registry.register("Basic", _rule("b20"), order=20, name="b20")
    registry.register("Basic", _rule("b10"), order=10, name="b10")
    registry.register("Patient", _rule("p5"), order=5, name="p5")
    assert _names(registry, "Basic") == ["b10", "all20", "b20", "b30"]
    assert _names(registry, "Patient") == ["p5", "all20"]
    assert _names(registry, "Observation") == ["all20"]


def test_has_rules() -> None:
    registry = Registry()
    assert not registry.has_rules("Basic")
    basic = registry.register("Basic", _rule("b"))
    assert registry.has_rules("Basic") and not registry.has_rules("Patient")
    everything = registry.register("*", _rule("all"))
    assert registry.has_rules("Patient")
    registry.unregister(everything)
    registry.unregister(basic)
    assert not registry.has_rules("Basic") and _names(registry, "Basic") == []


def test_registering_a_name_again_replaces_it() -> None:
    registry = Registry()
    registry.register("Basic", _rule("x"), order=10)
    registry.register("Basic", _rule("y"), order=20)
    registry.register("Basic", _rule("x"), order=30)  # a module imported again
    assert [(r.name.rsplit(".", 1)[1], r.order) for r in registry.rules_for("Basic")] == \
        [("rule_y", 20), ("rule_x", 30)]


def test_an_unimportable_rule_module_stops_start_up() -> None:
    with pytest.raises(SystemExit, match=r"Cannot import write rule module 'no_such_rules_module' "
                                         r"\(FHIR_RULE_MODULES\): No module named 'no_such_rules_module'"):
        rules.load_rule_modules([" no_such_rules_module "])
    assert rules.load_rule_modules(["", " "]) == list(rules.KNOWN_RULE_MODULES)  # blanks add nothing


def test_the_fast_creates_refuse_a_type_with_rules() -> None:
    """They cannot run rules (no transaction / written in bulk); the guard fires before any database work."""
    registration = rules.register("Basic", _rule("guard"), name="test-fast-path-guard")
    try:
        with pytest.raises(ServerError, match="create_alone cannot run the write rules of Basic"):
            asyncio.run(repository.create_alone(None, None, {"resourceType": "Basic"}))  # type: ignore[arg-type]
        with pytest.raises(ServerError, match="create_many cannot run the write rules of Basic"):
            asyncio.run(repository.create_many(None, None, [({"resourceType": "Basic"}, "x")]))  # type: ignore[arg-type]
    finally:
        rules.REGISTRY.unregister(registration)


def test_create_needs_rules_asks_each_rule_its_create_test() -> None:
    registry = Registry()
    assert not registry.create_needs_rules("Basic", {"resourceType": "Basic"})  # no rules at all
    registry.register("Basic", _rule("held"), name="held", creates=lambda r: r.get("status") == "held")
    assert not registry.create_needs_rules("Basic", {"resourceType": "Basic", "status": "free"})
    assert registry.create_needs_rules("Basic", {"resourceType": "Basic", "status": "held"})
    registry.register("Basic", _rule("every"), name="every")  # no create test: every create needs it
    assert registry.create_needs_rules("Basic", {"resourceType": "Basic", "status": "free"})
    star = Registry()
    star.register("*", _rule("all"), name="all")
    assert star.create_needs_rules("Observation", {"resourceType": "Observation"})
