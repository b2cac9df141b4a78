"""The ``end`` search parameters R4 lacks on Slot and Appointment
(http://hl7.org/fhir/R4/searchparameter.html), so a client can ask what overlaps a window:
``Slot?start=lt2031-03-05&end=gt2031-03-04``. Registered in the search registry when the rules
module is imported (every server worker and ``fhir-server load``), so they are indexed on every
write, declared in the CapabilityStatement and served at ``/SearchParameter/<id>``.
"""

from __future__ import annotations

from typing import Any

from ..search.registry import registry

__all__ = ["SEARCH_PARAMETERS", "register_search_parameters"]

BASE_URL = "http://fhir-server.example.org/SearchParameter"


def _end(rtype: str) -> dict[str, Any]:
    return {"resourceType": "SearchParameter", "id": f"{rtype}-end", "url": f"{BASE_URL}/{rtype}-end",
            "name": f"{rtype}End", "status": "active", "experimental": False, "publisher": "fhir_server",
            "description": f"When the {rtype} ends ({rtype}.end): with start, what overlaps a window",
            "code": "end", "base": [rtype], "type": "date", "expression": f"{rtype}.end",
            "xpath": f"f:{rtype}/f:end", "xpathUsage": "normal",
            "comparator": ["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"]}


SEARCH_PARAMETERS = {sp["id"]: sp for sp in (_end("Slot"), _end("Appointment"))}


def register_search_parameters() -> None:
    for sp in SEARCH_PARAMETERS.values():
        registry().add_custom(sp)
