"""availableTime -> slot times, in the hospital's time zone (pure; worked out by hand)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from fhir_server.errors import Unprocessable
from fhir_server.scheduling.availability import check_availability, slot_times
from fhir_server.scheduling.model import TRANSITIONS, StatusConflict, check_appointment, check_transition

MORNINGS = {"resourceType": "PractitionerRole", "availableTime": [
    {"daysOfWeek": ["mon", "tue", "wed", "thu", "fri"], "availableStartTime": "09:00:00",
     "availableEndTime": "11:00:00"}]}


def test_a_nine_oclock_slot_stays_nine_local_across_the_march_change() -> None:
    # Europe/Madrid moves from CET (+01:00) to CEST (+02:00) on Sunday 2031-03-30.
    times = list(slot_times(MORNINGS, date(2031, 3, 28), date(2031, 3, 31), "Europe/Madrid", 60))
    assert times == [
        (datetime(2031, 3, 28, 8, tzinfo=UTC), datetime(2031, 3, 28, 9, tzinfo=UTC)),
        (datetime(2031, 3, 28, 9, tzinfo=UTC), datetime(2031, 3, 28, 10, tzinfo=UTC)),
        (datetime(2031, 3, 31, 7, tzinfo=UTC), datetime(2031, 3, 31, 8, tzinfo=UTC)),
        (datetime(2031, 3, 31, 8, tzinfo=UTC), datetime(2031, 3, 31, 9, tzinfo=UTC)),
    ]


def test_the_spring_gap_gives_no_slot() -> None:
    night = {"availableTime": [{"daysOfWeek": ["sun"], "availableStartTime": "01:00:00",
                                "availableEndTime": "04:00:00"}]}
    starts = [s.isoformat() for s, _ in slot_times(night, date(2031, 3, 30), date(2031, 3, 30), "Europe/Madrid", 60)]
    # 01:00 CET = 00:00Z; 02:00-03:00 local does not exist; 03:00 CEST = 01:00Z.
    assert starts == ["2031-03-30T00:00:00+00:00", "2031-03-30T01:00:00+00:00"]


def test_not_available_and_all_day() -> None:
    role = {"availableTime": [{"daysOfWeek": ["tue"], "allDay": True}],
            "notAvailable": [{"description": "meeting", "during": {"start": "2031-03-04T01:00:00Z",
                                                                   "end": "2031-03-04T23:00:00Z"}}]}
    times = list(slot_times(role, date(2031, 3, 4), date(2031, 3, 4), "UTC", 60))
    assert times == [(datetime(2031, 3, 4, 0, tzinfo=UTC), datetime(2031, 3, 4, 1, tzinfo=UTC)),
                     (datetime(2031, 3, 4, 23, tzinfo=UTC), datetime(2031, 3, 5, 0, tzinfo=UTC))]


def test_overlapping_availability_is_refused() -> None:
    overlapping = {"resourceType": "PractitionerRole", "availableTime": [
        {"daysOfWeek": ["mon"], "availableStartTime": "09:00:00", "availableEndTime": "12:00:00"},
        {"daysOfWeek": ["mon", "tue"], "availableStartTime": "11:00:00", "availableEndTime": "13:00:00"}]}
    with pytest.raises(Unprocessable, match="overlaps itself on mon"):
        check_availability(overlapping)
    check_availability(MORNINGS)


def test_status_table() -> None:
    check_transition("booked", "arrived")
    check_transition("checked-in", "fulfilled")
    with pytest.raises(StatusConflict, match="cannot move from fulfilled to booked"):
        check_transition("fulfilled", "booked")
    assert TRANSITIONS["entered-in-error"] == frozenset()


def test_invariants() -> None:
    check_appointment({"status": "noshow", "start": "2031-03-04T09:00:00Z", "end": "2031-03-04T10:00:00Z",
                       "cancelationReason": {"text": "did not come"}})  # app-4 read with the code noshow
    with pytest.raises(Unprocessable, match="app-3"):
        check_appointment({"status": "booked"})
    with pytest.raises(Unprocessable, match="app-2"):
        check_appointment({"status": "proposed", "start": "2031-03-04T09:00:00Z"})
    with pytest.raises(Unprocessable, match="app-4"):
        check_appointment({"status": "booked", "start": "2031-03-04T09:00:00Z", "end": "2031-03-04T10:00:00Z",
                           "cancelationReason": {"text": "x"}})
    with pytest.raises(Unprocessable, match="end must be after"):
        check_appointment({"status": "booked", "start": "2031-03-04T09:00:00Z", "end": "2031-03-04T09:00:00Z"})
