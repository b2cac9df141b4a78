"""date search parameters: http://hl7.org/fhir/R4/search.html#date and #prefix.

Every indexed value is a half-open instant range [low, high) that keeps the precision of
the source (``2020`` is the whole year, ``2020-03-04T10:00Z`` one minute); Period is
[start.low, end.high) with open ends as -infinity/infinity; Timing contributes each event
and its bounds Period. Policy: a date or dateTime without a time zone is read as UTC
(``fhir_server.resources.datetimes``). The search value is a range of its precision too,
and the prefixes compare ranges exactly as search.html#prefix defines them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ...errors import BadRequest
from ...fhir.datetimes import parse_fhir_datetime_range
from ..extract import Node
from ..parse import unescape
from ..sqlfrag import Q, fmt, ident, join
from .common import ValueContext, split_prefix

__all__ = ["TABLE", "COLUMNS", "MODIFIERS", "index_rows", "predicate", "range_of", "range_condition", "predicate_all",
           "window"]

TABLE = "search_date"
COLUMNS = ("low", "high")
MODIFIERS = frozenset({"missing"})
Range = tuple[datetime | None, datetime | None]  # None: open (-infinity / infinity)


def range_of(text: str) -> Range | None:
    try:
        return parse_fhir_datetime_range(text, "date")
    except Exception:  # noqa: BLE001 - unparseable stored values are not indexed
        return None


def _period(value: dict[str, Any]) -> Range | None:
    start = range_of(value["start"]) if isinstance(value.get("start"), str) else None
    end = range_of(value["end"]) if isinstance(value.get("end"), str) else None
    if start is None and end is None:
        return None
    return (start[0] if start else None, end[1] if end else None)


def _ranges(value: Any, hint: str | None) -> list[Range]:
    if isinstance(value, str):
        found = range_of(value)
        return [found] if found else []
    if not isinstance(value, dict):
        return []
    if "start" in value or "end" in value:
        found = _period(value)
        return [found] if found else []
    out: list[Range] = []
    for event in value.get("event") or ():  # Timing
        if isinstance(event, str) and (found := range_of(event)):
            out.append(found)
    repeat = value.get("repeat")
    if isinstance(repeat, dict) and isinstance(repeat.get("boundsPeriod"), dict):
        if found := _period(repeat["boundsPeriod"]):
            out.append(found)
    return out


def index_rows(nodes: list[Node], root: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for value, hint in nodes:
        rows.extend(_ranges(value, hint))
    return list(dict.fromkeys(rows))


def _approx(low: datetime, high: datetime, now: datetime) -> tuple[datetime, datetime]:
    """``ap``: the value's range widened by 10% of its distance from now (at least a day)."""
    gap = abs(now - low) * 0.1
    gap = max(gap, timedelta(days=1))
    try:
        return low - gap, high + gap
    except OverflowError as exc:  # the widened range leaves years 0001-9999
        raise BadRequest(f"ap{low.date().isoformat()}: the approximate range leaves the supported years 0001-9999"
                         ) from exc


def range_condition(prefix: str, qlow: datetime, qhigh: datetime, low: Any, high: Any,
                    now: datetime | None = None) -> Q:
    """Rows' [low, high) against the search range [qlow, qhigh), per search.html#prefix."""
    eq = fmt("({} >= {} AND {} <= {})", low, qlow, high, qhigh)
    if prefix == "eq":
        return eq
    if prefix == "ne":
        return fmt("NOT {}", eq)
    if prefix == "gt":
        return fmt("{} > {}", high, qhigh)
    if prefix == "lt":
        return fmt("{} < {}", low, qlow)
    if prefix == "ge":
        return fmt("({} > {} OR {})", high, qhigh, eq)
    if prefix == "le":
        return fmt("({} < {} OR {})", low, qlow, eq)
    if prefix == "sa":
        return fmt("{} >= {}", low, qhigh)
    if prefix == "eb":
        return fmt("{} <= {}", high, qlow)
    if prefix == "ap":
        alow, ahigh = _approx(qlow, qhigh, now or datetime.now(UTC))
        return fmt("({} < {} AND {} > {})", low, ahigh, high, alow)
    raise BadRequest(f"Prefix {prefix!r} is not valid")


def window(prefix: str, qlow: datetime, qhigh: datetime, now: datetime | None = None
           ) -> tuple[datetime | None, datetime | None] | None:
    """A [lo, hi) window every matching value overlaps (None: no bound); lets a GiST index serve the prefix."""
    if prefix == "ne":
        return None
    if prefix == "ap":
        return _approx(qlow, qhigh, now or datetime.now(UTC))
    return {"eq": (qlow, qhigh), "gt": (qhigh, None), "sa": (qhigh, None), "ge": (qlow, None),
            "lt": (None, qlow), "eb": (None, qlow), "le": (None, qhigh)}.get(prefix)


def parsed(raw: str, name: str) -> tuple[str, datetime, datetime]:
    prefix, text = split_prefix(unescape(raw))
    qlow, qhigh = parse_fhir_datetime_range(text, name)
    return prefix, qlow, qhigh


def overlap(alias: str, lo: datetime | None, hi: datetime | None) -> Q:
    return fmt("tstzrange({}, {}, '[)') && tstzrange({}, {}, '[)')", ident(alias, "low"), ident(alias, "high"),
               lo, hi)


def predicate_all(values: list[str], alias: str, vc: ValueContext) -> Q:
    """AND of the given values (each a single date) on one row, plus their common overlap window."""
    conds, lo, hi, bounded = [], None, None, True
    for raw in values:
        prefix, qlow, qhigh = parsed(raw, vc.name)
        conds.append(range_condition(prefix, qlow, qhigh, ident(alias, "low"), ident(alias, "high"), vc.now))
        win = window(prefix, qlow, qhigh, vc.now)
        if win is None:
            bounded = False
            continue
        lo = win[0] if lo is None or (win[0] is not None and win[0] > lo) else lo
        hi = win[1] if hi is None or (win[1] is not None and win[1] < hi) else hi
    if bounded and (lo is not None or hi is not None):
        conds.append(overlap(alias, lo, hi))
    return fmt("({})", join(" AND ", conds))


def predicate(raw: str, modifier: str | None, alias: str, vc: ValueContext) -> Q:
    name, now = vc.name, vc.now
    if modifier is not None:
        raise BadRequest(f"Modifier :{modifier} is not supported on date parameter {name}")
    return predicate_all([raw], alias, ValueContext(name, now=now))
