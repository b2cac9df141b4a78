"""Index values and value semantics per type, worked out by hand from search.html."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from fhir_server.search.indexer import collect_rows
from fhir_server.search.types import date, number, string, token
from fhir_server.search.types.common import normalize, split_prefix
from fhir_server.search.types.ucum import canonical


def test_normalize_strips_accents_and_case() -> None:
    assert normalize("  Müller-Lüdenscheidt ") == "muller-ludenscheidt"


def test_string_rows_cover_name_parts() -> None:
    rows = string.index_rows([({"family": "Chalmers", "given": ["Peter", "James"], "use": "official"}, None)], {})
    assert [r[0] for r in rows] == ["chalmers", "peter", "james"]


def test_token_rows() -> None:
    cc = {"coding": [{"system": "http://loinc.org", "code": "1-8", "display": "Acyclovir"}], "text": "Acy"}
    assert token.index_rows([(cc, None)], {}) == [
        ("http://loinc.org", "1-8", None, None, None), (None, None, "acyclovir", None, None),
        (None, None, "acy", None, None)]
    assert token.index_rows([(True, None)], {}) == [(None, "true", None, None, None)]


def test_date_ranges_keep_precision() -> None:
    assert date.index_rows([("2020", None)], {}) == [
        (datetime(2020, 1, 1, tzinfo=UTC), datetime(2021, 1, 1, tzinfo=UTC))]
    (low, high), = date.index_rows([({"start": "2020-01-01T10:00:00+02:00"}, None)], {})
    assert low == datetime(2020, 1, 1, 8, tzinfo=UTC) and high is None  # open end -> infinity in SQL


def test_number_implicit_range() -> None:
    assert number.implicit_range(Decimal("100")) == (Decimal("99.5"), Decimal("100.5"))
    assert number.implicit_range(Decimal("1.50")) == (Decimal("1.495"), Decimal("1.505"))
    assert number.implicit_range(Decimal("1e2")) == (Decimal("50"), Decimal("150"))


def test_prefixes() -> None:
    assert split_prefix("ge2020") == ("ge", "2020")
    assert split_prefix("2020") == ("eq", "2020")
    assert split_prefix("ap-5") == ("ap", "-5")


def test_ucum_canonical() -> None:
    assert canonical("mg") == (Decimal("0.001"), "g")
    factor, unit = canonical("mg/dL")  # type: ignore[misc]
    assert unit == "g.m-3" and factor == Decimal("10")
    assert canonical("Cel") is None


def test_observation_rows_by_table() -> None:
    obs = {"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": "s", "code": "c"}]},
           "subject": {"reference": "Patient/1/_history/2"}, "effectiveDateTime": "2020-02-03",
           "valueQuantity": {"value": 5, "system": "http://unitsofmeasure.org", "code": "mg"}}
    rows = collect_rows("Observation", obs)
    assert ("subject", None, "Patient", "1", None, None, None, None) in rows["search_reference"]
    assert ("code", None, "s", "c", None, None, None) in rows["search_token"]
    quantity = [r for r in rows["search_quantity"] if r[0] == "value-quantity"]
    assert quantity == [("value-quantity", None, "http://unitsofmeasure.org", "mg", None, Decimal(5), Decimal(5),
                         "g", Decimal("0.005"), Decimal("0.005"))]
