"""Short-circuits for ``A or B`` invariants evaluated by fhirpathpy (http://hl7.org/fhirpath/N1/#or).

``A or B`` is true as soon as one operand is true, so an operand that Python can decide
cheaply is tried first and fhirpathpy runs only when none of them is true. Two kinds of
operand are decided here:

* pure existence logic (``clinicalStatus.exists()``, ``value.empty()``), by the caller's
  ``compile_existence``;
* a single path ending in ``.empty()`` whose first element is absent from the node
  (``component.code.where(...).empty()`` on an Observation without ``component``): navigating
  from an empty collection gives an empty collection, so the operand is true.

Only a top-level chain of ``or`` is split: ``xor`` and ``implies`` bind looser than ``or``
(or as loose), so an expression containing them at the top level is left whole, and ``and``
binds tighter, so ``x and y`` stays one operand (never decided by the absent-path rule).
A guard answers True or "don't know" (None), never False: the full expression decides then.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ...fhir.fhirpath_env import top_level_positions

__all__ = ["guard_or", "split_top_level_or"]

Plan = Callable[[Any, Any], "bool | None"]
_LEADING_NAME = re.compile(r"[a-z][A-Za-z0-9]*")
_LOOSE_OPERATORS = ("xor", "implies")


def split_top_level_or(expression: str) -> list[str] | None:
    """The operands of a top-level ``or`` chain, or None if the expression is not one."""
    operands, words, start = [], [], 0
    for i in top_level_positions(expression):
        word = re.match(r"\s+([a-z]+)\s", expression[i:]) if expression[i] == " " else None
        if word is None or i < start:
            continue
        words.append(word.group(1))
        if word.group(1) == "or":
            operands.append(expression[start:i].strip())
            start = i + word.end() - 1
    operands.append(expression[start:].strip())
    if len(operands) < 2 or any(w in _LOOSE_OPERATORS for w in words) or not all(operands):
        return None
    return operands


def _absent_path_empty(operand: str) -> Plan | None:
    """``name....empty()`` as a single path: true when ``name`` is absent from the node."""
    if not operand.endswith(".empty()") or _has_top_level_space(operand):
        return None
    match = _LEADING_NAME.match(operand)
    if match is None or operand[match.end():match.end() + 1] != ".":  # where(...).empty() is no path
        return None
    name = match.group(0)

    def plan(node: Any, _scope: Any) -> bool | None:
        if not isinstance(node, dict):
            return None
        # Present if any key is the name, a choice of it (valueQuantity) or its extension (_name).
        present = any(key.startswith(name) or key.startswith("_" + name) for key in node)
        return True if not present else None

    return plan


def _has_top_level_space(text: str) -> bool:
    return any(text[i].isspace() for i in top_level_positions(text))


def guard_or(expression: str, fallback: Plan, compile_operand: Callable[[str], Plan | None]) -> Plan:
    """``fallback`` behind cheap guards on the operands of a top-level ``or`` (if any apply)."""
    operands = split_top_level_or(expression)
    if operands is None:
        return fallback
    guards = [g for g in (compile_operand(op) or _absent_path_empty(op) for op in operands) if g is not None]
    if not guards:
        return fallback

    def plan(node: Any, scope: Any) -> bool | None:
        if any(guard(node, scope) is True for guard in guards):
            return True
        return fallback(node, scope)

    return plan
