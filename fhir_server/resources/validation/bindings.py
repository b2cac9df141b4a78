"""Required bindings (http://hl7.org/fhir/R4/terminologies.html#required): a code, Coding or
CodeableConcept bound with strength ``required`` must come from the value set. Value sets
that cannot be expanded locally are not checked (``terminology.expand`` returns None).
A CodeableConcept with text only carries no code and is accepted.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from ...terminology import expand

__all__ = ["binding_problem"]

CODE_TYPES = frozenset({"code", "string", "uri"})


@cache
def _codes(value_set: str) -> frozenset[str]:
    return frozenset(code for _, code in expand(value_set) or ())


def _coding_in(coding: Any, concepts: frozenset[tuple[str, str]], value_set: str) -> bool:
    if not isinstance(coding, dict) or "code" not in coding:
        return False
    system = coding.get("system")
    if system is None:
        return coding["code"] in _codes(value_set)
    return (system, coding["code"]) in concepts


def binding_problem(type_code: str, value: Any, value_set: str, strength: str = "required") -> str | None:
    concepts = expand(value_set)
    if concepts is None:
        return None
    if type_code in CODE_TYPES:
        if isinstance(value, str) and value not in _codes(value_set):
            return f"Code '{value}' is not in the {strength} value set {value_set}"
        return None
    if type_code == "Coding":
        if isinstance(value, dict) and "code" in value and not _coding_in(value, concepts, value_set):
            return f"Coding {value.get('system')}|{value.get('code')} is not in the {strength} value set {value_set}"
        return None
    if type_code == "CodeableConcept" and isinstance(value, dict):
        codings = [c for c in value.get("coding", []) if isinstance(c, dict) and "code" in c]
        if codings and not any(_coding_in(c, concepts, value_set) for c in codings):
            shown = ", ".join(f"{c.get('system')}|{c.get('code')}" for c in codings[:3])
            return f"None of the codings ({shown}) is in the {strength} value set {value_set}"
    return None
