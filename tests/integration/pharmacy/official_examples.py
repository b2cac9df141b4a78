"""Official R4 examples (hl7.fhir.r4.examples@4.0.1) that are valid FHIR but that the hospital's pharmacy
rules refuse (422, "(pharmacy rule ...)"): each dispense or administration names a MedicationRequest
that is not on the server when it is written (the requests' files sort after them, and several name
requests that no example holds). tests/integration/resources/test_examples_roundtrip.py expects the
refusal; entered-in-error records take nothing and are stored as usual.
"""

from __future__ import annotations

REFUSED_BY_PHARMACY: frozenset[str] = frozenset({
    "MedicationAdministration-medadmin0301.json",
    "MedicationAdministration-medadmin0302.json",
    "MedicationAdministration-medadmin0304.json",
    "MedicationAdministration-medadmin0305.json",
    "MedicationAdministration-medadmin0306.json",
    "MedicationAdministration-medadmin0307.json",
    "MedicationAdministration-medadmin0308.json",
    "MedicationAdministration-medadmin0309.json",
    "MedicationAdministration-medadmin0310.json",
    "MedicationAdministration-medadmin0311.json",
    "MedicationAdministration-medadmin0312.json",
    "MedicationAdministration-medadmin0313.json",
    "MedicationAdministration-medadminexample03.json",
    "MedicationDispense-meddisp008.json",
    "MedicationDispense-meddisp0301.json",
    "MedicationDispense-meddisp0302.json",
    "MedicationDispense-meddisp0303.json",
    "MedicationDispense-meddisp0304.json",
    "MedicationDispense-meddisp0306.json",
    "MedicationDispense-meddisp0307.json",
    "MedicationDispense-meddisp0308.json",
    "MedicationDispense-meddisp0310.json",
    "MedicationDispense-meddisp0311.json",
    "MedicationDispense-meddisp0312.json",
    "MedicationDispense-meddisp0313.json",
    "MedicationDispense-meddisp0314.json",
    "MedicationDispense-meddisp0315.json",
    "MedicationDispense-meddisp0316.json",
    "MedicationDispense-meddisp0317.json",
    "MedicationDispense-meddisp0318.json",
    "MedicationDispense-meddisp0319.json",
    "MedicationDispense-meddisp0320.json",
    "MedicationDispense-meddisp0321.json",
    "MedicationDispense-meddisp0322.json",
    "MedicationDispense-meddisp0324.json",
    "MedicationDispense-meddisp0325.json",
    "MedicationDispense-meddisp0326.json",
    "MedicationDispense-meddisp0327.json",
    "MedicationDispense-meddisp0328.json",
    "MedicationDispense-meddisp0329.json",
    "MedicationDispense-meddisp0330.json",
    "MedicationDispense-meddisp0331.json",
})
