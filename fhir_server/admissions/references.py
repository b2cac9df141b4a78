"""Literal references of the form ``Type/id`` (http://hl7.org/fhir/R4/references.html#literal),
relative or absolute; a versioned reference names the resource it versions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["reference_id", "coded"]

_REFERENCE = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


def reference_id(reference: Any, rtype: str | None = None) -> str | None:
    """The id a Reference points at (of type ``rtype`` when given), or None."""
    if not isinstance(reference, Mapping) or not isinstance(reference.get("reference"), str):
        return None
    match = _REFERENCE.search(reference["reference"])
    if match is None or (rtype is not None and match.group(1) != rtype):
        return None
    return match.group(2)


def coded(coding: Any, system: str, code: str) -> bool:
    """True when a Coding, or any coding of a CodeableConcept (or a list of them), is system|code."""
    if isinstance(coding, list):
        return any(coded(c, system, code) for c in coding)
    if not isinstance(coding, Mapping):
        return False
    if "coding" in coding:
        return coded(coding.get("coding"), system, code)
    return coding.get("system") == system and coding.get("code") == code
