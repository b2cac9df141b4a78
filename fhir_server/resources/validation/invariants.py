"""Invariants (ElementDefinition.constraint) checked with FHIRPath.

Spec: http://hl7.org/fhir/R4/conformance-rules.html#constraints (an invariant SHALL evaluate
to true), FHIRPath: http://hl7.org/fhirpath/N1/ , FHIR's FHIRPath additions:
http://hl7.org/fhir/R4/fhirpath.html .

``InvariantChecker.check`` is called by the structure walker for every element that has
constraints. Each distinct (key, expression) gets one *plan*, built once:

* ``NATIVE``: Python for invariants found on nearly every element (``ele-1``, ``ref-1``,
  ``per-1``), for ``dom-3`` (fhirpathpy cannot evaluate ``descendants().as(uri)``) and the
  narrative checks ``txt-1``/``txt-2`` (``htmlChecks()``, approximated: see fhirpath_env);
* ``rng-2`` natively too (fhirpathpy cannot compare Quantities); ``CORRECTED`` rewrites the
  few expressions fhirpathpy misreads;
* ``compile_existence``: expressions that only combine ``path.exists()``/``path.empty()``
  with boolean operators (``ext-1``, ``dom-2``/``4``/``5``/``6``, ``qty-3``, ``obs-6``,
  ``tim-*`` ...) become Python closures;
* everything else is evaluated by fhirpathpy (``fhirpath_env``), compiled once.

Verdicts: ``true`` passes, ``false`` is an issue, an empty result (undecidable, e.g. dates of
different precision compared) is not reported. An expression fhirpathpy cannot evaluate is
skipped and logged once per key at debug level; ``UNSUPPORTED`` lists those skipped on purpose.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from fhir_server.errors import Issue
from fhir_server.resources.validation.or_guards import guard_or

from ...fhir import fhirpath_env as env

__all__ = ["InvariantChecker", "UNSUPPORTED", "CORRECTED", "NATIVE", "Scope", "compile_existence"]

log = logging.getLogger(__name__)

# Constraint key -> why it is not evaluated. Keep this as small as possible.
UNSUPPORTED: dict[str, str] = {}

# (key, R4 expression) -> the expression evaluated instead, where fhirpathpy reads the R4
# text differently from the reference (Java) engine.
CORRECTED: dict[tuple[str, str], str] = {
    # fhirpathpy types answerBoolean as FHIR.boolean, which it does not equate with the
    # unqualified System name Boolean.
    ("que-7", "operator = 'exists' implies (answer is Boolean)"):
        "operator = 'exists' implies (answer is boolean)",
    # R4's app-4 tests 'no-show', but the AppointmentStatus code is ``noshow``: a cancelation
    # reason on a no-show is valid (fhir_server/scheduling/model.py says the same).
    ("app-4", "Appointment.cancelationReason.exists() implies (Appointment.status='no-show' or "
              "Appointment.status='cancelled')"):
        "Appointment.cancelationReason.exists() implies (Appointment.status='noshow' or "
        "Appointment.status='cancelled')",
}


class Scope:
    """Where a focus node sits: FHIR type path, %resource and %rootResource (computed lazily)."""

    __slots__ = ("root", "location", "_type_path", "_located")

    def __init__(self, root: dict[str, Any], location: str, type_path: str | None = None) -> None:
        self.root = root
        self.location = location
        self._type_path = type_path
        self._located: tuple[str | None, dict[str, Any], dict[str, Any]] | None = None

    def _locate(self) -> tuple[str | None, dict[str, Any], dict[str, Any]]:
        if self._located is None:
            self._located = env.locate(self.root, self.location)
        return self._located

    @property
    def type_path(self) -> str | None:
        return self._type_path or self._locate()[0]

    @property
    def resource(self) -> dict[str, Any]:
        return self._locate()[1]

    @property
    def root_resource(self) -> dict[str, Any]:
        return self._locate()[2]

    def variables(self) -> dict[str, Any]:
        return {"resource": self.resource, "rootResource": self.root_resource, "ucum": env.UCUM}


# A plan: (focus, scope) -> True (holds) | False (violated) | None (undecidable or skipped).
Plan = Callable[[Any, Scope], bool | None]


class InvariantChecker:
    """Evaluates ElementDefinition.constraint lists; one instance per process is enough."""

    def __init__(self) -> None:
        self._plans: dict[tuple[str, str], Plan] = {}
        self._logged: set[str] = set()

    def check(self, node: Any, constraints: Sequence[dict[str, Any]], location: str,
              root: dict[str, Any], *, type_path: str | None = None) -> list[Issue]:
        """Issues for the constraints that ``node`` (at ``location`` in ``root``) violates.

        ``type_path`` is ``node``'s FHIR type path as fhirpathpy's model knows it (``Period``,
        ``Patient.contact``); it is derived from ``location`` when not given.
        """
        if len(constraints) == 1 and _is_plain_ele_1(constraints[0]):  # most elements: nothing else to set up
            return [] if ele_1(node) else [_issue(constraints[0], location)]
        issues: list[Issue] = []
        scope: Scope | None = None
        for constraint in constraints:
            ident = (constraint.get("key", "?"), constraint.get("expression") or "")
            plan = self._plans.get(ident) or self._plan(*ident)
            if scope is None:
                scope = Scope(root, location, type_path)
            if plan(node, scope) is False:
                issues.append(_issue(constraint, location))
        return issues

    def plan(self, key: str, expression: str) -> Plan:
        """The cached evaluator for one constraint (exposed for tests and sweeps)."""
        return self._plans.get((key, expression)) or self._plan(key, expression)

    def _plan(self, key: str, expression: str) -> Plan:
        native = NATIVE.get((key, expression))
        plan: Plan | None
        if not expression or key in UNSUPPORTED:
            plan = _skip
        elif native is not None:
            plan = native
        else:
            evaluated = CORRECTED.get((key, expression), expression)
            plan = compile_existence(evaluated) or guard_or(evaluated, self.fhirpath_plan(key, evaluated),
                                                            compile_existence)
        self._plans[(key, expression)] = plan
        return plan

    def fhirpath_plan(self, key: str, expression: str) -> Plan:
        """A plan that evaluates ``expression`` with fhirpathpy (never raises)."""
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


ELE_1_EXPRESSION = "hasValue() or (children().count() > id.count())"


def _is_plain_ele_1(constraint: dict[str, Any]) -> bool:
    """The core ele-1 exactly as R4 defines it (a profile's variant goes through the checker)."""
    return constraint.get("key") == "ele-1" and constraint.get("expression") == ELE_1_EXPRESSION


def ele_1(node: Any) -> bool:
    """hasValue() or (children().count() > id.count()): a value, or a child besides id."""
    if isinstance(node, dict):
        return any(k != "id" and k != "fhir_comments" and v is not None and v != []
                   for k, v in node.items())
    return node is not None


# --- native invariants -------------------------------------------------------------------

def _ele_1(node: Any, _scope: Scope) -> bool:
    return ele_1(node)


def _per_1(node: Any, _scope: Scope) -> bool | None:
    """start <= end when both have values (fhirpathpy compares date strings as text)."""
    return _ordered(node.get("start"), node.get("end"))


def _mdd_1(node: Any, _scope: Scope) -> bool | None:
    return _ordered(node.get("whenPrepared"), node.get("whenHandedOver"))


def _task_inv_1(node: Any, _scope: Scope) -> bool | None:
    return _ordered(node.get("authoredOn"), node.get("lastModified"))


_DATETIME = re.compile(r"(\d{4})(?:-(\d\d)(?:-(\d\d)(?:T(\d\d):(\d\d)(?::(\d\d(?:\.\d+)?))?"
                       r"(Z|[+-]\d\d:\d\d)?)?)?)?")


def _ordered(first: Any, second: Any) -> bool | None:
    """FHIRPath ``first <= second`` for date/dateTime/instant strings; None when undecidable.

    Precisions are compared from the year down; at the first difference the values are
    ordered; equal up to the shorter precision but of different precision is empty
    (http://hl7.org/fhirpath/N1/#comparison). Values with an offset are compared in UTC.
    """
    if not isinstance(first, str) or not isinstance(second, str):
        return True  # a side without a value: `x.hasValue().not()` holds
    a, b = _components(first), _components(second)
    if a is None or b is None:
        return None
    for x, y in zip(a, b, strict=False):
        if x != y:
            return x < y
    return True if len(a) == len(b) else None


def _components(value: str) -> tuple[Any, ...] | None:
    match = _DATETIME.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, offset = match.groups()
    if hour is None:
        return tuple(int(p) for p in (year, month, day) if p is not None)
    if offset is None:
        return None  # a local time cannot be placed on the timeline
    sec = Decimal(second or 0)
    try:
        stamp = datetime(int(year), int(month), int(day), int(hour), int(minute), tzinfo=UTC)
    except ValueError:
        return None
    if offset != "Z":
        sign = -1 if offset[0] == "-" else 1
        stamp -= sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
    parts = (stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute)
    return parts if second is None else (*parts, sec)


def _ref_1(node: Any, scope: Scope) -> bool | None:
    """A local reference (#id) must match a contained resource of %rootResource."""
    reference = node.get("reference") if isinstance(node, dict) else None
    if not isinstance(reference, str):
        return None
    if not reference.startswith("#"):
        return True
    if reference == "#":  # '#'.substring(1) is empty (start outside the string): undecided
        return None
    contained = scope.root_resource.get("contained") or ()
    return any(isinstance(c, dict) and c.get("id") == reference[1:] for c in contained)


_URI_TYPES = frozenset({"uri", "url", "canonical", "oid", "uuid"})


def _dom_3(node: Any, _scope: Scope) -> bool:
    """Every contained resource is referenced from the resource or refers to the container."""
    contained = node.get("contained") if isinstance(node, dict) else None
    if not contained:
        return True
    targets: set[str] = set()
    _collect_targets(node, node.get("resourceType"), targets)
    for resource in contained:
        rid = resource.get("id") if isinstance(resource, dict) else None
        if not isinstance(rid, str) or "#" + rid in targets:
            continue
        inner: set[str] = set()
        _collect_targets(resource, resource.get("resourceType"), inner, canonical_only=True)
        if "#" not in inner:
            return False
    return True


def _collect_targets(data: dict[str, Any], type_path: str | None, out: set[str],
                     canonical_only: bool = False) -> None:
    """Strings under ``reference`` keys and uri-typed (canonical-typed) values below ``data``."""
    for key, value in data.items():
        if key == "resourceType":
            continue
        child_type = env.json_child_type(type_path, key)
        for item in value if isinstance(value, list) else (value,):
            if isinstance(item, dict):
                item_type = item.get("resourceType", child_type)
                _collect_targets(item, item_type, out, canonical_only)
            elif isinstance(item, str) and (
                    key == "reference"
                    or (child_type == "canonical" if canonical_only else child_type in _URI_TYPES)):
                out.add(item)


def _rng_2(node: Any, _scope: Scope) -> bool | None:
    """low <= high for quantities in the same unit; other units would need UCUM: undecided."""
    low, high = node.get("low"), node.get("high")
    if not isinstance(low, dict) or not isinstance(high, dict):
        return True
    lv, hv = low.get("value"), high.get("value")
    if not _is_number(lv) or not _is_number(hv) or _unit(low) != _unit(high):
        return None
    return bool(lv <= hv)  # type: ignore[operator]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _unit(quantity: dict[str, Any]) -> tuple[Any, ...]:
    if "code" in quantity:
        return quantity.get("system"), quantity["code"]
    return (quantity.get("unit"),)


def _txt_1(node: Any, _scope: Scope) -> bool:
    return env.html_checks(node)


def _txt_2(node: Any, _scope: Scope) -> bool:
    return env.html_has_content(node)


_DOM_3 = (
    "contained.where((('#'+id in (%resource.descendants().reference | %resource.descendants()"
    ".as(canonical) | %resource.descendants().as(uri) | %resource.descendants().as(url))) or "
    "descendants().where(reference = '#').exists() or descendants().where(as(canonical) = '#')"
    ".exists() or descendants().where(as(canonical) = '#').exists()).not())"
    ".trace('unmatched', id).empty()"
)
# (key, R4 expression) -> implementation; a profile reusing a key with another expression is
# evaluated normally.
NATIVE: dict[tuple[str, str], Plan] = {
    ("ele-1", ELE_1_EXPRESSION): _ele_1,
    ("per-1", "start.hasValue().not() or end.hasValue().not() or (start <= end)"): _per_1,
    ("mdd-1", "whenHandedOver.empty() or whenPrepared.empty() or whenHandedOver >= whenPrepared"): _mdd_1,
    ("inv-1", "lastModified.exists().not() or authoredOn.exists().not() or lastModified >= authoredOn"):
        _task_inv_1,
    ("ref-1", "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
              "%rootResource.contained.id.trace('ids'))"): _ref_1,
    ("dom-3", _DOM_3): _dom_3,
    ("rng-2", "low.empty() or high.empty() or (low <= high)"): _rng_2,
    ("txt-1", "htmlChecks()"): _txt_1,
    ("txt-2", "htmlChecks()"): _txt_2,
}


# --- existence logic ---------------------------------------------------------------------
# Expressions built only from `a.b.exists()`, `a.b.empty()`, `.not()`, parentheses and
# and/or/xor/implies/=/!= between booleans need no FHIRPath engine: every operand is a
# boolean, so FHIRPath's three-valued logic reduces to Python's.

_TOKEN = re.compile(r"\s*(!=|[().=]|`[A-Za-z]+`|[A-Za-z][A-Za-z0-9]*)")
_CHOICES = env.choice_suffixes()
_Test = Callable[[Any], bool]


def compile_existence(expression: str) -> Plan | None:
    """A Python plan for a pure existence-logic expression, or None if it is anything else."""
    tokens = _tokenize(expression)
    if tokens is None:
        return None
    parser = _ExistenceParser(tokens)
    try:
        test = parser.implies()
    except (IndexError, ValueError):
        return None
    if parser.pos != len(tokens):
        return None
    return lambda node, _scope: test(node)


def _tokenize(expression: str) -> list[str] | None:
    tokens, pos = [], 0
    while pos < len(expression.rstrip()):
        match = _TOKEN.match(expression, pos)
        if match is None:
            return None
        tokens.append(match.group(1).strip("`"))
        pos = match.end()
    return tokens


class _ExistenceParser:
    """Recursive descent in FHIRPath precedence: implies < or/xor < and < =/!= < term."""

    _BINARY: dict[str, Callable[[bool, bool], bool]] = {
        "implies": lambda a, b: (not a) or b, "or": lambda a, b: a or b,
        "xor": lambda a, b: a != b, "and": lambda a, b: a and b,
        "=": lambda a, b: a == b, "!=": lambda a, b: a != b,
    }

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> str:
        token = self.tokens[self.pos]
        if expected is not None and token != expected:
            raise ValueError(token)
        self.pos += 1
        return token

    def _level(self, operators: tuple[str, ...], operand: Callable[[], _Test]) -> _Test:
        left = operand()
        while self._peek() in operators:
            op = self._BINARY[self._take()]
            left = _combine(op, left, operand())
        return left

    def implies(self) -> _Test:
        return self._level(("implies",), self.or_)

    def or_(self) -> _Test:
        return self._level(("or", "xor"), self.and_)

    def and_(self) -> _Test:
        return self._level(("and",), self.equality)

    def equality(self) -> _Test:
        return self._level(("=", "!="), self.term)

    def term(self) -> _Test:
        if self._peek() == "(":
            self._take("(")
            test = self.implies()
            self._take(")")
        else:
            test = self._path_test()
        while self._peek() == ".":
            self._take(".")
            self._call("not")
            test = _negate(test)
        return test

    def _call(self, name: str) -> None:
        self._take(name)
        self._take("(")
        self._take(")")

    def _path_test(self) -> _Test:
        path: list[str] = []
        while True:
            name = self._take()
            if not name[0].isalpha() or name in self._BINARY:
                raise ValueError(name)
            if self._peek() == "(":
                if name not in ("exists", "empty") or not path:
                    raise ValueError(name)
                self.pos -= 1
                self._call(name)
                return _exists_test(tuple(path), negate=name == "empty")
            path.append(name)
            self._take(".")


def _combine(op: Callable[[bool, bool], bool], left: _Test, right: _Test) -> _Test:
    return lambda node: op(left(node), right(node))


def _negate(test: _Test) -> _Test:
    return lambda node: not test(node)


def _exists_test(path: tuple[str, ...], negate: bool) -> _Test:
    if negate:
        return lambda node: not _path_exists(node, path)
    return lambda node: _path_exists(node, path)


def _path_exists(node: Any, path: tuple[str, ...]) -> bool:
    items = [node]
    for name in path:
        items = [child for item in items if isinstance(item, dict)
                 for child in _children(item, name)]
        if not items:
            return False
    return True


def _children(item: dict[str, Any], name: str) -> list[Any]:
    """``name`` of a JSON object: the value, its ``_name`` twin, or a choice ``name[x]``."""
    keys = [k for k in (name, "_" + name) if k in item]
    if not keys and name in _CHOICES:
        suffixes = _CHOICES[name]
        keys = [k for k in item if k.lstrip("_").startswith(name)
                and k.lstrip("_")[len(name):] in suffixes]
    out: list[Any] = []
    for key in keys:
        value = item[key]
        if isinstance(value, list):
            out.extend(v for v in value if v is not None)
        elif value is not None:
            out.append(value)
    return out
