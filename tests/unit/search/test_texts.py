"""What ``_text`` and ``_content`` search (indexer._texts): the narrative's words, and the
resource's text -- strings and codes, not references, URIs, ids or dates."""

from __future__ import annotations

from fhir_server.search.indexer import _texts

OBSERVATION = {
    "resourceType": "Observation", "id": "1ab9e699-8c7c-486f-b485-fdf0404a9b99",
    "meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/vitalsigns"]},
    "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><b>Body</b> height</div>"},
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2", "display": "Body Height"}]},
    "subject": {"reference": "urn:uuid:63731047-b5a9-4b05-a14b-8cf6507efc98", "display": "Ms. Smith"},
    "effectiveDateTime": "2011-04-19T09:21:52+00:00", "issued": "2011-04-19T09:21:52.137+00:00",
    "valueQuantity": {"value": 176.3, "unit": "cm", "system": "http://unitsofmeasure.org", "code": "cm"},
    "extension": [{"url": "http://example.org/note", "valueString": "measured standing"}],
    "note": [{"text": "2011-04 is when she moved"}],
}


def test_content_is_the_text_and_codes_without_structure() -> None:
    narrative, content = _texts(OBSERVATION)
    assert narrative == "  Body  height "
    assert content == ("Observation generated final 8302-2 Body Height Ms. Smith cm cm measured standing"
                       " 2011-04 is when she moved " + narrative)
