"""JSON in and out, preserving FHIR decimal precision.

FHIR decimals keep their precision (``1.50`` is not ``1.5``: http://hl7.org/fhir/R4/json.html#primitive,
datatypes.html#decimal). orjson parses numbers into floats, which drops trailing zeros and
digits past double precision, so bodies whose numbers would change are parsed with the
standard library into ``Decimal`` instead and written back verbatim with ``orjson.Fragment``.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import orjson

from .errors import BadRequest

__all__ = ["parse_json", "dumps", "check_depth"]

# A number orjson would not write back byte-identical: a fraction ending in 0 after its first
# digit ("1.50"), an exponent, or 16 or more digits (doubles keep 15 for sure). It must stand as a JSON
# value (after ':' ',' or '[' and before ',' '}' or ']'), so timestamps such as
# "10:20:01.120Z" do not trigger the slow path; a rare match inside a string only costs time.
_LOSSY_NUMBER = re.compile(
    rb"[:,\[]\s*-?(?:\d+\.\d*\d0|\d*\.?\d+[eE][-+]?\d+|\d(?:\.?\d){15,})\s*[,}\]]")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes, max_depth: int | None = 64) -> Any:
    """Parse a request body once; raise BadRequest with a clear message on any defect.

    ``max_depth`` None: no nesting check beyond the parsers' own (about 1,000 levels), for
    stored resources and the operator's own files."""
    try:
        if _LOSSY_NUMBER.search(raw):
            value = json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_constant=_reject_constant)
        else:
            value = orjson.loads(raw)
    except UnicodeDecodeError as exc:
        raise BadRequest(f"Request body is not valid UTF-8: {exc.reason} at byte {exc.start}") from exc
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"Request body is not valid JSON: {exc}") from exc
    if max_depth is not None:
        check_depth(value, max_depth)
    return value


_NESTED = (dict, list)


def check_depth(value: Any, max_depth: int) -> None:
    """Refuse pathological nesting before anything recursive walks the value.

    Level by level: one list comprehension per container, no per-node tuples (a Synthea
    bundle has tens of thousands of containers)."""
    level = [value] if isinstance(value, _NESTED) else []
    depth = 0
    while level:
        depth += 1
        if depth > max_depth:
            raise BadRequest(f"JSON nesting deeper than {max_depth} levels is not accepted")
        below: list[Any] = []
        for node in level:
            below += [c for c in (node.values() if isinstance(node, dict) else node) if isinstance(c, _NESTED)]
        level = below


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return orjson.Fragment(str(obj).encode())
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def dumps(value: Any, pretty: bool = False) -> bytes:
    return orjson.dumps(value, default=_default, option=orjson.OPT_INDENT_2 if pretty else 0)
