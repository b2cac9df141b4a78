"""Availability -> Slot times, in the hospital's time zone (pure).

``PractitionerRole.availableTime`` / ``notAvailable`` (http://hl7.org/fhir/R4/practitionerrole.html)
and ``HealthcareService.availableTime`` / ``notAvailable``
(http://hl7.org/fhir/R4/healthcareservice.html): days of week, local start and end times, or all
day. Local times are read in the ``FHIR_TIMEZONE`` zone (``zoneinfo``), so a 09:00 slot stays
09:00 local across daylight-saving changes; a local time that does not exist that day (the
spring-forward gap) yields no slot.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..errors import Unprocessable
from ..fhir.datetimes import parse_fhir_datetime_range

__all__ = ["DAYS", "slot_times", "check_availability"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Window = tuple[int, time, time | None]  # weekday, local start, local end (None: midnight)


def _clock(value: Any, name: str) -> time:
    try:
        return time.fromisoformat(str(value))
    except ValueError as exc:
        raise Unprocessable(f"availableTime.{name} '{value}' is not a time (hh:mm:ss)") from exc


def _windows(resource: Mapping[str, Any], strict: bool = True) -> list[Window]:
    """The weekly windows; ``strict=False`` skips (rather than refuses) unusable entries."""
    windows: list[Window] = []
    for entry in resource.get("availableTime") or []:
        days = [DAYS.index(d) for d in entry.get("daysOfWeek") or DAYS if d in DAYS]
        if entry.get("allDay"):
            start, end = time(0), None
        else:
            try:
                start, end = _window_clocks(entry)
            except Unprocessable:
                if strict:
                    raise
                continue
        windows.extend((day, start, end) for day in days)
    return windows


def _window_clocks(entry: Mapping[str, Any]) -> tuple[time, time]:
    if "availableStartTime" not in entry or "availableEndTime" not in entry:
        raise Unprocessable("availableTime needs availableStartTime and availableEndTime, or allDay")
    start, end = _clock(entry["availableStartTime"], "availableStartTime"), \
        _clock(entry["availableEndTime"], "availableEndTime")
    if end <= start:
        raise Unprocessable(f"availableTime ends ({end}) before it starts ({start}): no Slots can be made from it")
    return start, end


def _minutes(clock: time | None) -> int:
    return 24 * 60 if clock is None else clock.hour * 60 + clock.minute


def check_availability(resource: Mapping[str, Any]) -> None:
    """Refuse availableTime entries that overlap on one day of the week (422). Entries that give no
    window (e.g. ending before they start, as the R4 HealthcareService example does) are left to
    $generate-slots, which refuses them: they are stored as written."""
    by_day: dict[int, list[tuple[int, int]]] = {}
    for day, start, end in _windows(resource, strict=False):
        by_day.setdefault(day, []).append((_minutes(start), _minutes(end)))
    for day, spans in by_day.items():
        spans.sort()
        for (_, first_end), (second_start, _) in zip(spans, spans[1:], strict=False):
            if second_start < first_end:
                raise Unprocessable(f"{resource.get('resourceType')}.availableTime overlaps itself on {DAYS[day]}")


def _blocked(resource: Mapping[str, Any]) -> list[tuple[datetime, datetime]]:
    periods = []
    for entry in resource.get("notAvailable") or []:
        during = entry.get("during") or {}
        start = parse_fhir_datetime_range(during["start"], "notAvailable.during.start")[0] \
            if "start" in during else datetime.min.replace(tzinfo=UTC)
        # An instant ends there; a date (or month, year) ends with its last moment.
        end = parse_fhir_datetime_range(during["end"], "notAvailable.during.end")["T" not in during["end"]] \
            if "end" in during else datetime.max.replace(tzinfo=UTC)
        periods.append((start, end))
    return periods


def _local(day: date, clock: time, zone: ZoneInfo) -> datetime | None:
    """The instant of local ``clock`` on ``day``; None when that local time does not exist (DST gap)."""
    moment = datetime.combine(day, clock, zone)
    if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment.replace(tzinfo=None):
        return None
    return moment


def slot_times(resource: Mapping[str, Any], first: date, last: date, zone: str,
               slot_minutes: int) -> Iterator[tuple[datetime, datetime]]:
    """[start, end) of each slot the resource's availability gives from ``first`` to ``last`` (inclusive)."""
    tz = ZoneInfo(zone)
    windows, blocked = _windows(resource), _blocked(resource)
    step = timedelta(minutes=slot_minutes)
    day = first
    while day <= last:
        for weekday, start, end in sorted(windows, key=lambda w: w[1]):
            if weekday != day.weekday():
                continue
            clock = datetime.combine(day, start)
            stop = datetime.combine(day + timedelta(days=1), time(0)) if end is None else datetime.combine(day, end)
            while clock + step <= stop:
                begin, finish = _local(clock.date(), clock.time(), tz), _local((clock + step).date(),
                                                                              (clock + step).time(), tz)
                clock += step
                if begin is None:  # a start inside the spring-forward gap: no such local time, no slot
                    continue
                if finish is None or finish <= begin:  # the end falls in the gap: the slot keeps its length
                    finish = (begin.astimezone(UTC) + step).astimezone(tz)
                if not any(begin < b_end and finish > b_start for b_start, b_end in blocked):
                    yield begin.astimezone(UTC), finish.astimezone(UTC)
        day += timedelta(days=1)
