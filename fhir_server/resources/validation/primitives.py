"""Primitive values: JSON type, lexical format and range (http://hl7.org/fhir/R4/datatypes.html#primitive,
json.html#primitive). Formats are the regular expressions the R4 type definitions carry on
their ``value`` element; ranges are the 32-bit integer limits of integer, positiveInt and unsignedInt.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

from ...definitions import definitions
from .datatype_rules import markdown_problem

__all__ = ["primitive_problem"]

REGEX_EXT = "http://hl7.org/fhir/StructureDefinition/regex"
INTEGER_TYPES = {"integer": (-2**31, 2**31 - 1), "positiveInt": (1, 2**31 - 1), "unsignedInt": (0, 2**31 - 1)}
NUMBER_TYPES = frozenset({"decimal", *INTEGER_TYPES})
DATE_TYPES = frozenset({"date", "dateTime", "instant"})
# datatypes.html#string: "Strings SHALL NOT exceed 1MB (1024*1024 characters) in size"; the types
# derived from string share the limit (base64Binary carries Attachment data and is not bounded).
MAX_STRING_CHARS = 1024 * 1024
MAX_STRING_TYPES = frozenset({"string", "markdown", "code", "id", "uri", "url", "canonical"})


@cache
def _pattern(type_name: str) -> re.Pattern[str] | None:
    sd = definitions().types.get(type_name)
    if sd is None:
        return None
    for element in sd["snapshot"]["element"]:
        if element["path"] == f"{type_name}.value":
            for entry in element.get("type", []):
                for ext in entry.get("extension", []):
                    if ext.get("url") == REGEX_EXT:
                        return re.compile(ext["valueString"], re.ASCII)  # Java semantics: \\S is ASCII
    return None


def _json_type_problem(type_name: str, value: Any) -> str | None:
    if type_name == "boolean":
        return None if isinstance(value, bool) else "must be a JSON boolean (true or false)"
    if type_name in INTEGER_TYPES:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be a JSON integer ({type_name})"
        low, high = INTEGER_TYPES[type_name]
        return None if low <= value <= high else f"{value} is outside the {type_name} range {low}..{high}"
    if type_name == "decimal":
        ok = isinstance(value, int | float | Decimal) and not isinstance(value, bool)
        return None if ok else "must be a JSON number (decimal)"
    if not isinstance(value, str):
        return f"must be a JSON string ({type_name})"
    if value == "":
        return "must not be an empty string"
    return None


# Strings already found valid per type (codes, systems, moments recur across resources):
# their regex and calendar checks are skipped. Bounded.
_VALID: set[tuple[str, str]] = set()
_VALID_LIMIT = 50_000


def primitive_problem(type_name: str, value: Any) -> str | None:
    """Why ``value`` is not a valid ``type_name`` value, or None when it is."""
    problem = _json_type_problem(type_name, value)
    if problem is not None or type_name in NUMBER_TYPES or type_name == "boolean":
        return problem
    key = (type_name, value)
    if key in _VALID:
        return None
    problem = _string_problem(type_name, value)
    if problem is None and len(value) <= 256:
        if len(_VALID) >= _VALID_LIMIT:
            _VALID.clear()
        _VALID.add(key)
    return problem


def _string_problem(type_name: str, value: str) -> str | None:
    if type_name in MAX_STRING_TYPES and len(value) > MAX_STRING_CHARS:
        return f"A {type_name} may hold at most 1 MB ({MAX_STRING_CHARS:,} characters); this one has {len(value):,}"
    if type_name == "markdown":
        problem = markdown_problem(value)
        if problem is not None:
            return problem
    pattern = _pattern(type_name)
    if pattern is not None and not pattern.fullmatch(value):
        return f"{value[:60]!r} is not a valid {type_name}"
    if type_name in DATE_TYPES and len(value) >= 10 and not _real_day(value[:10]):
        return f"{value[:60]!r} is not a valid {type_name}: no such day"
    return None


def _real_day(day: str) -> bool:
    """The regexes allow 31 days in every month; the calendar does not (2019-02-29)."""
    try:
        date.fromisoformat(day)
    except ValueError:
        return False
    return True
