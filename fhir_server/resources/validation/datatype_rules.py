"""Rules of R4 data types that their StructureDefinitions state only in prose, checked as the
reference validator checks them:

- ``Coding.system`` and ``Identifier.system`` are absolute URIs (datatypes.html#Coding:
  "the identification of the code system ... an absolute reference"; #Identifier "system");
- ``Attachment.size`` and ``Attachment.hash`` agree with ``Attachment.data`` when both are
  present (datatypes.html#Attachment: size "before base64 encoding", hash "SHA-1 ... base64");
- ``markdown`` carries no active HTML (datatypes.html#markdown: "systems SHALL NOT render
  embedded HTML"; script-like content is refused rather than stored for a reader to render).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from typing import Any

__all__ = ["datatype_problems", "markdown_problem"]

_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_ACTIVE_HTML = re.compile(r"<\s*(script|iframe|object|embed|form|style|link|meta|base)\b|javascript\s*:|"
                          r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)

Problem = tuple[str, str, str, str]  # (severity, issue code, message, location suffix)


def _system(type_name: str) -> Callable[[dict[str, Any]], list[Problem]]:
    def check(value: dict[str, Any]) -> list[Problem]:
        system = value.get("system")
        if isinstance(system, str) and not _ABSOLUTE.match(system):
            return [("error", "value", f"{type_name}.system must be an absolute URI, not {system[:60]!r}", ".system")]
        return []
    return check


def _attachment(value: dict[str, Any]) -> list[Problem]:
    data = value.get("data")
    if not isinstance(data, str):
        return []
    try:
        raw = base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        return []  # the base64Binary format check reports the data itself
    problems: list[Problem] = []
    size = value.get("size")
    if isinstance(size, int) and not isinstance(size, bool) and size != len(raw):
        problems.append(("error", "value",
                         f"Attachment.size {size} does not match the size of its data ({len(raw)} bytes)", ".size"))
    stated = value.get("hash")
    if isinstance(stated, str):
        actual = base64.b64encode(hashlib.sha1(raw).digest()).decode()  # noqa: S324 - the spec's choice
        if stated.strip() != actual:
            # a warning: systems differ in what they hash (the official pgx example's hash is of something else)
            problems.append(("warning", "value",
                             f"Attachment.hash does not match its data (SHA-1 of the data is {actual})", ".hash"))
    return problems


_RULES: dict[str, Callable[[dict[str, Any]], list[Problem]]] = {
    "Coding": _system("Coding"), "Identifier": _system("Identifier"), "Attachment": _attachment}


def datatype_problems(type_name: str, value: dict[str, Any]) -> list[Problem]:
    rule = _RULES.get(type_name)
    return rule(value) if rule is not None else []


def markdown_problem(value: str) -> str | None:
    match = _ACTIVE_HTML.search(value)
    if match is None:
        return None
    return f"markdown must not contain active HTML ({match.group(0)[:30]!r}): it is shown to readers"
