"""FHIR date/dateTime/instant values as instants and as [start, end) ranges of their precision.

http://hl7.org/fhir/R4/datatypes.html#dateTime. Policy for a value without a time zone
(allowed for dates and partial dateTimes): it is read as UTC. Digits are ASCII only, a time
zone offset lies within FHIR's -14:00..+14:00, and a value whose range does not fit in years
0001-9999 UTC (``9999-12-31`` ends on 10000-01-01; ``0001-01-01T00:00:00+01:00`` starts in
year 0) is refused with 400 rather than clamped: no stored value can be compared with it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from ..errors import BadRequest

__all__ = ["parse_fhir_datetime_range", "parse_instant"]

_DATETIME = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?P<f>\.\d+)?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$", re.ASCII)  # ASCII: \d would also take other scripts' digits


def _add_months(moment: datetime, months: int) -> datetime:
    year, month = divmod(moment.month - 1 + months, 12)
    return moment.replace(year=moment.year + year, month=month + 1)


# Ranges already parsed: the same moments recur across a record's resources (an encounter's
# start in each of its observations, claims and procedures). Bounded; values are immutable.
_PARSED: dict[str, tuple[datetime, datetime]] = {}
_PARSED_LIMIT = 20_000


def parse_fhir_datetime_range(value: str, name: str) -> tuple[datetime, datetime]:
    """The [start, end) interval a FHIR date/dateTime covers at its precision."""
    found = _PARSED.get(value)
    if found is None:
        found = _parse_range(value, name)
        if len(_PARSED) >= _PARSED_LIMIT:
            _PARSED.clear()
        _PARSED[value] = found
    return found


def _parse_range(value: str, name: str) -> tuple[datetime, datetime]:
    # An unencoded '+' in a query string arrives as a space: "10:00:00 02:00" means "+02:00".
    match = _DATETIME.match(value.strip().replace(" ", "+"))
    if not match:
        raise BadRequest(f"{name}={value!r} is not a FHIR date, dateTime or instant")
    g = match.groupdict()
    tz = _zone(g["tz"], name, value)
    try:
        fraction = g["f"] or ""
        start = datetime(int(g["y"]), int(g["m"] or 1), int(g["d"] or 1), int(g["H"] or 0), int(g["M"] or 0),
                         int(g["S"] or 0), int((fraction[1:] + "000000")[:6]) if fraction else 0, tzinfo=tz)
    except ValueError as exc:
        raise BadRequest(f"{name}={value!r} is not a valid date: {exc}") from exc
    try:
        end = _end(start, g, fraction)
        return start.astimezone(UTC), end.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise BadRequest(f"{name}={value!r} is outside the supported range of dates (years 0001-9999, UTC)") from exc


def _zone(text: str | None, name: str, value: str) -> timezone:
    if not text or text == "Z":
        return UTC
    hours, minutes = int(text[1:3]), int(text[4:6])
    if minutes > 59 or hours > 14 or (hours == 14 and minutes):
        raise BadRequest(f"{name}={value!r}: a time zone offset lies between -14:00 and +14:00")
    sign = 1 if text[0] == "+" else -1
    return timezone(timedelta(minutes=sign * (hours * 60 + minutes)))


def _end(start: datetime, g: dict[str, str | None], fraction: str) -> datetime:
    """The exclusive end of the value's precision (OverflowError/ValueError past year 9999)."""
    if g["f"]:
        end = start + timedelta(microseconds=10 ** max(0, 6 - (len(fraction) - 1)))
    elif g["S"]:
        end = start + timedelta(seconds=1)
    elif g["M"]:
        end = start + timedelta(minutes=1)
    elif g["d"]:
        end = start + timedelta(days=1)
    elif g["m"]:
        end = _add_months(start, 1)
    else:
        end = start.replace(year=start.year + 1)
    return end


def parse_instant(value: str, name: str) -> datetime:
    """The start of the value's range (e.g. ``_since=2020-01-01`` means from that midnight, UTC)."""
    return parse_fhir_datetime_range(value, name)[0]


def now_instant() -> datetime:
    """The server clock at millisecond precision, the precision lastUpdated is written with."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def format_instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
