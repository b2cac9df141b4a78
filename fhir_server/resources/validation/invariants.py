"""Invariants (ElementDefinition.constraint) checked with FHIRPath.

Spec: http://hl7.org/fhir/R4/conformance-rules.html#constraints (an invariant SHALL evaluate
to true), FHIRPath: http://hl7.org/fhirpath/N1/ , FHIR's FHIRPath additions:
http://hl7.org/fhir/R4/fhirpath.html .

``InvariantChecker.check`` is called by the structure walker for every element that has
constraints. Each distinct expression gets one *plan*, built once:

* the invariants found on nearly every element (``ele-1``, ``ext-1``, ``dom-2`` .. ``dom-6``,
  ``ref-1``, ``per-1``) and the narrative checks ``txt-1``/``txt-2`` (``htmlChecks()``) run as
  Python (``_native.py``-style functions below, proved equal to FHIRPath on the examples);
* expressions that only combine ``path.exists()``/``path.empty()`` with boolean operators
  (``qty-3``, ``obs-6``, ``tim-*`` ...) are compiled to Python by ``existence_logic``;
* everything else is evaluated by fhirpathpy (``fhirpath_env``).

Verdicts: ``true`` passes, ``false`` is an issue, an empty result (undecidable, e.g. dates of
different precision compared) is not reported. An expression fhirpathpy cannot evaluate is
skipped and logged once at debug level; ``UNSUPPORTED`` lists the ones skipped on purpose.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fhir_server.errors import Issue
from fhir_server.resources.validation import fhirpath_env as env
from fhir_server.resources.validation.existence_logic import compile_existence
from fhir_server.resources.validation.native import NATIVE, Scope

__all__ = ["InvariantChecker", "UNSUPPORTED", "Scope"]

log = logging.getLogger(__name__)

# Constraint key -> why it is not evaluated. Keep this as small as possible.
UNSUPPORTED: dict[str, str] = {}

# A plan: (focus, scope) -> True (holds) | False (violated) | None (undecidable or skipped).
Plan = Callable[[Any, Scope], bool | None]


class InvariantChecker:
    """Evaluates ElementDefinition.constraint lists; one instance per process is enough."""

    def __init__(self) -> None:
        self._plans: dict[str, Plan] = {}
        self._logged: set[str] = set()

    def check(self, node: Any, constraints: list[dict[str, Any]], location: str,
              root: dict[str, Any], *, type_path: str | None = None) -> list[Issue]:
        """Issues for the constraints that ``node`` (at ``location`` in ``root``) violates.

        ``type_path`` is the FHIR type path of ``node`` as fhirpathpy's model knows it
        (``Period``, ``Patient.contact``); derived from ``location`` when not given.
        """
        issues: list[Issue] = []
        scope: Scope | None = None
        for constraint in constraints:
            expression = constraint.get("expression")
            if not expression:
                continue
            plan = self._plans.get(expression) or self._plan(constraint)
            if scope is None:
                scope = Scope(root, location, type_path)
            if plan(node, scope) is False:
                issues.append(_issue(constraint, location))
        return issues

    def _plan(self, constraint: dict[str, Any]) -> Plan:
        expression: str = constraint["expression"]
        key = constraint.get("key", "?")
        plan = NATIVE.get(expression) or compile_existence(expression)
        if plan is None and key in UNSUPPORTED:
            plan = _skip
        if plan is None:
            plan = self._fhirpath_plan(key, expression)
        self._plans[expression] = plan
        return plan

    def _fhirpath_plan(self, key: str, expression: str) -> Plan:
        try:
            compiled = env.compile_expression(expression)
        except Exception as exc:  # noqa: BLE001 - a bad expression must not break validation
            self._log_once(key, expression, exc)
            return _skip

        def plan(node: Any, scope: Scope) -> bool | None:
            try:
                with env.resolving(scope.root_resource):
                    result = compiled(env.typed_node(node, scope.type_path), scope.variables())
            except Exception as exc:  # noqa: BLE001 - fhirpathpy gaps must not break validation
                self._log_once(key, expression, exc)
                return None
            return _verdict(result)

        return plan

    def _log_once(self, key: str, expression: str, exc: Exception) -> None:
        if key not in self._logged:
            self._logged.add(key)
            log.debug("invariant %s skipped: %r raised %s: %s", key, expression,
                      type(exc).__name__, exc)


def _skip(_node: Any, _scope: Scope) -> None:
    return None


def _verdict(result: list[Any]) -> bool | None:
    """FHIRPath singleton evaluation: [false] fails, [] is undecidable, anything else holds."""
    if len(result) != 1:
        return None if not result else True
    value = getattr(result[0], "data", result[0])
    return value if isinstance(value, bool) else True


def _issue(constraint: dict[str, Any], location: str) -> Issue:
    severity = "error" if constraint.get("severity") == "error" else "warning"
    return Issue(severity, "invariant", f"{constraint.get('key')}: {constraint.get('human', '')}",
                 (location,))
