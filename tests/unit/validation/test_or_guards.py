"""Short-circuit guards on ``or`` invariants: they may only ever answer True when FHIRPath would."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.resources.validation.invariants import InvariantChecker, compile_existence
from fhir_server.resources.validation.or_guards import guard_or, split_top_level_or

OBS_7 = "value.empty() or component.code.where(coding.intersect(%resource.code.coding).exists()).empty()"


@pytest.mark.parametrize(("expression", "operands"), [
    (OBS_7, ["value.empty()", "component.code.where(coding.intersect(%resource.code.coding).exists()).empty()"]),
    ("a.exists() and b.exists() or c.empty()", ["a.exists() and b.exists()", "c.empty()"]),
    ("name = 'x or y' or z.empty()", ["name = 'x or y'", "z.empty()"]),
    ("a or b implies c", None),  # implies binds looser: (a or b) implies c
    ("a xor b or c", None),  # xor and or are left-associative peers
    ("single.empty()", None),
    ("(a or b).not()", None),  # the or is not at the top level
])
def test_split_top_level_or(expression: str, operands: list[str] | None) -> None:
    assert split_top_level_or(expression) == operands


def _never(node: Any, scope: Any) -> bool | None:
    raise AssertionError("the fallback must not run when a guard decides")


def _false(node: Any, scope: Any) -> bool | None:
    return False


def test_absent_first_path_element_makes_empty_true() -> None:
    plan = guard_or(OBS_7, _never, compile_existence)
    observation = {"resourceType": "Observation", "valueQuantity": {"value": 1}, "code": {"text": "x"}}
    assert plan(observation, None) is True  # no component: the second operand is true


def test_present_path_falls_back_to_the_full_expression() -> None:
    plan = guard_or(OBS_7, _false, compile_existence)
    with_component = {"valueQuantity": {"value": 1}, "component": [{"code": {"text": "x"}}]}
    assert plan(with_component, None) is False  # decided by the fallback, not the guard
    # a choice of the name, or its extension, counts as present
    assert guard_or("a.exists() or value.where(code = 'kg').empty()", _false, compile_existence)(
        {"valueQuantity": {"code": "kg"}}, None) is False
    assert guard_or("a.exists() or birthDate.where($this > @2000).empty()", _false, compile_existence)(
        {"_birthDate": {"extension": []}}, None) is False


def test_and_operand_is_never_decided_by_absence() -> None:
    # "x.exists() and y.z.empty()" is false when x is absent; the absent-path rule must not apply.
    plan = guard_or("x.exists() and y.z.empty() or w.exists()", _false, compile_existence)
    assert plan({}, None) is False


def test_checker_verdicts_unchanged_for_obs_7() -> None:
    checker = InvariantChecker()
    constraint = {"key": "obs-7", "severity": "error", "human": "component codes differ", "expression": OBS_7}
    bad = {"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": "s", "code": "c"}]},
           "valueQuantity": {"value": 1},
           "component": [{"code": {"coding": [{"system": "s", "code": "c"}]}, "valueQuantity": {"value": 2}}]}
    good = {**bad, "component": [{"code": {"coding": [{"system": "s", "code": "other"}]}}]}
    plain = {key: value for key, value in bad.items() if key != "component"}
    assert [i.diagnostics for i in checker.check(bad, [constraint], "Observation", bad)] == \
        ["obs-7: component codes differ"]
    assert checker.check(good, [constraint], "Observation", good) == []
    assert checker.check(plain, [constraint], "Observation", plain) == []
