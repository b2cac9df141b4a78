"""A small UCUM canonicalizer for quantity search (http://hl7.org/fhir/R4/search.html#quantity).

Handles products and quotients of (metric-prefixed) base and common derived units with
integer exponents: ``mg/dL`` -> 0.01 ``g.m-3`` style (factor, canonical code). Units it does
not understand (``Cel``, annotations, arbitrary ``{...}`` units) return None and are
compared by their code as written.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cache
from typing import cast

__all__ = ["canonical", "UCUM_SYSTEM"]

UCUM_SYSTEM = "http://unitsofmeasure.org"

_PREFIXES = {"Y": "1e24", "Z": "1e21", "E": "1e18", "P": "1e15", "T": "1e12", "G": "1e9", "M": "1e6", "k": "1e3",
             "h": "1e2", "da": "1e1", "d": "1e-1", "c": "1e-2", "m": "1e-3", "u": "1e-6", "n": "1e-9", "p": "1e-12",
             "f": "1e-15"}
# atom -> (factor, {base: exponent}); bases: g m s mol K and dimensionless counts.
_ATOMS: dict[str, tuple[str, dict[str, int]]] = {
    "g": ("1", {"g": 1}), "m": ("1", {"m": 1}), "s": ("1", {"s": 1}), "mol": ("6.02214076e23", {}),
    "K": ("1", {"K": 1}), "L": ("1e-3", {"m": 3}), "l": ("1e-3", {"m": 3}), "min": ("60", {"s": 1}),
    "h": ("3600", {"s": 1}), "d": ("86400", {"s": 1}), "wk": ("604800", {"s": 1}),
    "mo": ("2629800", {"s": 1}), "a": ("31557600", {"s": 1}), "Hz": ("1", {"s": -1}),
    "Pa": ("1000", {"g": 1, "m": -1, "s": -2}), "mm[Hg]": ("133322", {"g": 1, "m": -1, "s": -2}),
    "[lb_av]": ("453.59237", {"g": 1}), "[oz_av]": ("28.349523125", {"g": 1}),
    "[in_i]": ("0.0254", {"m": 1}), "[ft_i]": ("0.3048", {"m": 1}), "%": ("0.01", {}), "1": ("1", {}),
    "[iU]": ("1", {"[iU]": 1}), "[IU]": ("1", {"[iU]": 1}), "eq": ("6.02214076e23", {}),
}
_TERM = re.compile(r"^(?P<atom>[A-Za-z%\[\]_]+|1)(?P<exp>-?\d+)?$")


def _atom(text: str) -> tuple[Decimal, dict[str, int]] | None:
    if text in _ATOMS:
        factor, dims = _ATOMS[text]
        return Decimal(factor), dims
    for prefix in sorted(_PREFIXES, key=len, reverse=True):
        if text.startswith(prefix) and text[len(prefix):] in _ATOMS and text[len(prefix):] not in ("%", "1"):
            factor, dims = _ATOMS[text[len(prefix):]]
            return Decimal(factor) * Decimal(_PREFIXES[prefix]), dims
    return None


def _term(text: str) -> tuple[Decimal, dict[str, int]] | None:
    text = re.sub(r"\{[^}]*\}", "", text) or "1"  # annotations carry no meaning
    m = _TERM.match(text)
    if not m:
        return None
    found = _atom(m["atom"])
    if found is None:
        return None
    exp = int(m["exp"] or 1)
    factor, dims = found
    return factor ** exp, {k: v * exp for k, v in dims.items()}


@cache
def canonical(code: str) -> tuple[Decimal, str] | None:
    """(factor to canonical, canonical code) or None when the unit is not understood."""
    if not code or "(" in code or code.count("/") > 2:
        return None
    total, dims = Decimal(1), cast(dict[str, int], {})
    for i, chunk in enumerate(code.split("/")):
        for term_text in chunk.split("."):
            found = _term(term_text)
            if found is None:
                return None
            factor, term_dims = found
            sign = -1 if i > 0 else 1
            total = total / factor if sign < 0 else total * factor
            for k, v in term_dims.items():
                dims[k] = dims.get(k, 0) + sign * v
    key = ".".join(f"{k}{v}" if v != 1 else k for k, v in sorted(dims.items()) if v) or "1"
    return total, key
