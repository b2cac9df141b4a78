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
