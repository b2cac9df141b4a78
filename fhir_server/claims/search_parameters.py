"""The ExplanationOfBenefit search parameters CARIN Blue Button readers use and R4 lacks
(http://hl7.org/fhir/us/carin-bb/, its SearchParameters explanationofbenefit-type,
-service-date and -insurer): ``ExplanationOfBenefit?patient=..&type=..&service-date=ge2031-01-01``,
``_include=ExplanationOfBenefit:insurer``. Registered in the search registry when the rules module
is imported (every server worker and ``fhir-server load``), so they are indexed on every write,
declared in the CapabilityStatement and served at ``/SearchParameter/<id>``.
"""

from __future__ import annotations

from typing import Any

from ..search.registry import registry

__all__ = ["SEARCH_PARAMETERS", "register_search_parameters"]

BASE_URL = "http://fhir-server.example.org/SearchParameter"


def _parameter(code: str, kind: str, expression: str, description: str, **extra: Any) -> dict[str, Any]:
    rid = f"ExplanationOfBenefit-{code}"
    return {"resourceType": "SearchParameter", "id": rid, "url": f"{BASE_URL}/{rid}", "name": f"EOB-{code}",
            "status": "active", "experimental": False, "publisher": "fhir_server", "description": description,
            "code": code, "base": ["ExplanationOfBenefit"], "type": kind, "expression": expression,
            "xpathUsage": "normal", **extra}


SEARCH_PARAMETERS = {sp["id"]: sp for sp in (
    _parameter("type", "token", "ExplanationOfBenefit.type", "The type of the claim (CARIN: institutional, "
               "professional, pharmacy, oral)"),
    _parameter("service-date", "date",
               "ExplanationOfBenefit.billablePeriod | ExplanationOfBenefit.item.serviced",
               "When the services were provided (billable period or item serviced date/period)",
               comparator=["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"]),
    _parameter("insurer", "reference", "ExplanationOfBenefit.insurer", "The insurer that adjudicated the claim",
               target=["Organization"]),
)}


def register_search_parameters() -> None:
    for sp in SEARCH_PARAMETERS.values():
        registry().add_custom(sp)
