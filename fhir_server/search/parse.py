"""Query string -> SearchRequest (pure): http://hl7.org/fhir/R4/search.html#syntax.

Parameter names: ``code``, ``code:modifier``, chains ``subject:Patient.name:exact`` and
reverse chains ``_has:Observation:patient:code`` (nested). Values: OR by ``,`` (AND by
repeating the parameter), escapes ``\\,`` ``\\|`` ``\\$`` ``\\\\``. Result parameters
(``_sort``, ``_count``, ...) are checked here; whether a code exists for a type is decided
later, by the planner, which knows the registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import BadRequest
from ..fhir.numbers import is_ascii_digits

__all__ = ["Criterion", "Has", "Param", "SortKey", "Include", "SearchRequest", "parse_request", "split_escaped",
           "unescape", "parse_criterion", "CONTROL", "IGNORED"]

# Result parameters (search.html#return) and paging/format parameters this server accepts.
CONTROL = frozenset({"_sort", "_count", "_total", "_summary", "_elements", "_include", "_revinclude",
                     "_contained", "_containedType", "_cursor", "_type"})
IGNORED = frozenset({"_format", "_pretty"})  # handled by rendering; never search criteria
TOTAL_MODES = ("none", "estimate", "accurate")
SUMMARY_MODES = ("true", "text", "data", "count", "false")


@dataclass(frozen=True)
class Has:
    """``_has:Type:ref:...`` — resources that a ``Type`` refers to through ``ref``."""

    type: str
    ref: str
    inner: Criterion


@dataclass(frozen=True)
class Criterion:
    code: str
    modifier: str | None = None
    chain: Criterion | None = None  # subject:Patient.name -> Criterion(subject, Patient, Criterion(name))
    has: Has | None = None


@dataclass(frozen=True)
class Param:
    name: str  # as sent, for the self link and messages
    criterion: Criterion
    values: tuple[str, ...]  # OR-ed, still escaped for the type parser
    raw: str


@dataclass(frozen=True)
class SortKey:
    code: str
    descending: bool


@dataclass(frozen=True)
class Include:
    source: str  # resource type or "*"
    param: str  # search parameter code or "*"
    target: str | None
    iterate: bool
    reverse: bool


@dataclass
class SearchRequest:
    params: list[Param] = field(default_factory=list)
    sort: list[SortKey] = field(default_factory=list)
    count: int | None = None
    total: str | None = None
    summary: str | None = None
    elements: list[str] | None = None
    includes: list[Include] = field(default_factory=list)
    contained: str = "false"
    cursor: str | None = None
    types: list[str] | None = None  # _type (system search)
    control: list[tuple[str, str]] = field(default_factory=list)  # applied result params, for links


def split_escaped(text: str, sep: str) -> list[str]:
    """Split on unescaped ``sep``; escape sequences are kept (see ``unescape``)."""
    parts, current, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current.append(text[i:i + 2])
            i += 2
            continue
        if ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in ",|$\\":
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def parse_criterion(name: str) -> Criterion:
    if name.startswith("_has:"):
        pieces = name.split(":", 3)
        if len(pieces) != 4 or not all(pieces[1:]):
            raise BadRequest(f"{name}: _has needs the form _has:[type]:[reference parameter]:[parameter]")
        return Criterion("_has", has=Has(pieces[1], pieces[2], parse_criterion(pieces[3])))
    head, dot, rest = name.partition(".")
    code, _, modifier = head.partition(":")
    if not code:
        raise BadRequest(f"Parameter name {name!r} is not valid")
    chain = parse_criterion(rest) if dot else None
    if dot and not rest:
        raise BadRequest(f"Parameter name {name!r} ends with '.': the chained parameter is missing")
    return Criterion(code, modifier or None, chain)


def _parse_sort(raw: str) -> list[SortKey]:
    keys = []
    for item in raw.split(","):
        item = item.strip()
        desc = item.startswith("-")
        code = item[1:] if desc else item
        if not code:
            raise BadRequest(f"_sort={raw!r}: empty sort key")
        keys.append(SortKey(code, desc))
    return keys


def _parse_include(name: str, raw: str) -> Include:
    base, _, modifier = name.partition(":")
    if modifier not in ("", "iterate", "recurse"):
        raise BadRequest(f"{name}: only the :iterate modifier is defined for {base}")
    if raw == "*":
        return Include("*", "*", None, bool(modifier), base == "_revinclude")
    pieces = raw.split(":")
    if len(pieces) not in (2, 3) or not all(pieces):
        raise BadRequest(f"{name}={raw!r}: expected [type]:[search parameter] or [type]:[parameter]:[target type]")
    return Include(pieces[0], pieces[1], pieces[2] if len(pieces) == 3 else None, bool(modifier),
                   base == "_revinclude")


def _parse_count(raw: str) -> int:
    if not is_ascii_digits(raw):
        raise BadRequest(f"_count={raw!r} is not a non-negative integer")
    return int(raw)


def _control(req: SearchRequest, name: str, raw: str) -> None:
    base = name.split(":", 1)[0]
    if base == "_sort":
        req.sort.extend(_parse_sort(raw))
    elif base == "_count":
        req.count = _parse_count(raw)
    elif base == "_total":
        if raw not in TOTAL_MODES:
            raise BadRequest(f"_total={raw!r}: use one of {', '.join(TOTAL_MODES)}")
        req.total = raw
    elif base == "_summary":
        if raw not in SUMMARY_MODES:
            raise BadRequest(f"_summary={raw!r}: use one of {', '.join(SUMMARY_MODES)}")
        req.summary = raw
    elif base == "_elements":
        req.elements = [e.strip() for e in raw.split(",") if e.strip()]
    elif base in ("_include", "_revinclude"):
        req.includes.append(_parse_include(name, raw))
    elif base == "_contained":
        if raw not in ("true", "false", "both"):
            raise BadRequest(f"_contained={raw!r}: use true, false or both")
        req.contained = raw
    elif base == "_cursor":
        req.cursor = raw
        return  # paging state is not part of the applied parameters
    elif base == "_type":
        req.types = list(dict.fromkeys(t.strip() for t in raw.split(",") if t.strip()))  # each type once
    req.control.append((name, raw))


def parse_request(items: list[tuple[str, str]]) -> SearchRequest:
    """Parse query/form items; raises BadRequest for malformed result parameters."""
    req = SearchRequest()
    for name, raw in items:
        if name in IGNORED or not name:
            continue
        if name.split(":", 1)[0] in CONTROL:
            _control(req, name, raw)
            continue
        values = tuple(split_escaped(raw, ","))
        req.params.append(Param(name, parse_criterion(name), values, raw))
    return req
