"""[start, end) ranges of FHIR date/dateTime values at their precision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from fhir_server.errors import BadRequest
from fhir_server.fhir.datetimes import parse_fhir_datetime_range

PLUS2 = timezone(timedelta(hours=2))


@pytest.mark.parametrize(("value", "start", "end"), [
    ("2020", datetime(2020, 1, 1, tzinfo=UTC), datetime(2021, 1, 1, tzinfo=UTC)),
    ("2020-12", datetime(2020, 12, 1, tzinfo=UTC), datetime(2021, 1, 1, tzinfo=UTC)),
    ("2020-02-29", datetime(2020, 2, 29, tzinfo=UTC), datetime(2020, 3, 1, tzinfo=UTC)),
    ("2020-02-29T10:00:00+02:00", datetime(2020, 2, 29, 10, tzinfo=PLUS2),
     datetime(2020, 2, 29, 10, 0, 1, tzinfo=PLUS2)),
    ("2020-02-29T10:00:00 02:00", datetime(2020, 2, 29, 10, tzinfo=PLUS2),
     datetime(2020, 2, 29, 10, 0, 1, tzinfo=PLUS2)),
    ("2020-02-29T10:00:00.25Z", datetime(2020, 2, 29, 10, 0, 0, 250000, tzinfo=UTC),
     datetime(2020, 2, 29, 10, 0, 0, 260000, tzinfo=UTC)),
])
def test_ranges(value: str, start: datetime, end: datetime) -> None:
    assert parse_fhir_datetime_range(value, "x") == (start, end)


@pytest.mark.parametrize("value", ["2020-13", "2019-02-29", "20200101", "yesterday", "2020-01-01T25:00:00Z"])
def test_invalid(value: str) -> None:
    with pytest.raises(BadRequest):
        parse_fhir_datetime_range(value, "_since")


def test_a_remembered_range_is_the_same_and_a_bad_value_fails_every_time() -> None:
    first = parse_fhir_datetime_range("2011-04-19T09:21:52+02:00", "date")
    assert parse_fhir_datetime_range("2011-04-19T09:21:52+02:00", "effective") == first == (
        datetime(2011, 4, 19, 7, 21, 52, tzinfo=UTC), datetime(2011, 4, 19, 7, 21, 53, tzinfo=UTC))
    for name in ("date", "birthdate"):
        with pytest.raises(BadRequest, match=name):
            parse_fhir_datetime_range("2011-13-01", name)


@pytest.mark.parametrize(("value", "message"), [
    ("9999-12-31", "is outside the supported range of dates (years 0001-9999, UTC)"),  # ends on 10000-01-01
    ("9999", "is outside the supported range of dates (years 0001-9999, UTC)"),
    ("9999-12", "is outside the supported range of dates (years 0001-9999, UTC)"),
    ("9999-12-31T23:59:59Z", "is outside the supported range of dates (years 0001-9999, UTC)"),
    ("9999-12-31T23:00:00-05:00", "is outside the supported range of dates (years 0001-9999, UTC)"),
    ("0001-01-01T00:00:00+01:00", "is outside the supported range of dates (years 0001-9999, UTC)"),
    ("2020-01-01T00:00:00+99:00", ": a time zone offset lies between -14:00 and +14:00"),
    ("2020-01-01T00:00:00+14:01", ": a time zone offset lies between -14:00 and +14:00"),
    ("2020-01-01T00:00:00-15:00", ": a time zone offset lies between -14:00 and +14:00"),
    ("2020-01-01T00:00:00+05:60", ": a time zone offset lies between -14:00 and +14:00"),
])
def test_values_outside_what_the_range_arithmetic_holds(value: str, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_fhir_datetime_range(value, "_at")
    sep = "" if message.startswith(":") else " "
    assert caught.value.message == f"_at={value!r}{sep}{message}"


@pytest.mark.parametrize("value", ["\u0662\u0660\u0662\u0660", "2020-0\u00b2", "\uff12\uff10\uff12\uff10"])
def test_digits_are_ascii_only(value: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_fhir_datetime_range(value, "date")
    assert caught.value.message == f"date={value!r} is not a FHIR date, dateTime or instant"


def test_the_edges_that_fit() -> None:
    assert parse_fhir_datetime_range("9999-12-30", "x") == (datetime(9999, 12, 30, tzinfo=UTC),
                                                           datetime(9999, 12, 31, tzinfo=UTC))
    assert parse_fhir_datetime_range("2020-01-01T00:00:00+14:00", "x") == (
        datetime(2019, 12, 31, 10, tzinfo=UTC), datetime(2019, 12, 31, 10, 0, 1, tzinfo=UTC))
    assert parse_fhir_datetime_range("2020-01-01T00:00:00-14:00", "x")[0] == datetime(2020, 1, 1, 14, tzinfo=UTC)
    assert parse_fhir_datetime_range("0001-01-01", "x")[0] == datetime(1, 1, 1, tzinfo=UTC)
